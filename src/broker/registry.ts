/**
 * The key registry: every worker and admin key the daemon accepts.
 *
 * Keys issued by an admin (`hush workers issue`) and keys made by a join
 * handshake (PROTOCOL.md §5) are the same kind of record; only `via` differs,
 * so the verifier never needs to know how a key came to be.
 * Invariants: a revoked key is refused from the very next request; a key never
 * outlives `expiresAt`; mac/enc keys are zero-filled when dropped.
 *
 * Bounds: at most `maxWorkers` live worker keys (`max_items` past it; a key
 * that expired frees its place at the next sweep); records of ended keys are
 * kept an hour for listings, and the oldest are dropped sooner when there
 * are more than twice `maxWorkers` records.
 *
 * Every way a key ends — `revoke` (by an admin, by clone detection, or any
 * later caller) and expiry noticed by `sweep` — calls `onEnd` once, so the
 * daemon can end what the key held (src/server/revoke.ts).
 *
 * Rekey with key confirmation (PROTOCOL.md §6): `rekey` makes a **pending**
 * key and leaves the current one in force; the pending key's first use
 * (`confirm`) makes it the current key. A later rekey with the current key
 * (a retry whose answer was lost) replaces the pending key, which is then
 * remembered only as superseded: it never becomes valid, and a use of it
 * means two holders of one credential.
 * @module
 */
import { HushError } from "../errors.ts";
import { TTL_LIMITS, formatKeyId, randomBytes, wipe } from "./_deps.ts";
import { checkLimit, LimitTally } from "./limits.ts";

/** Why a key ended, and who ended it (for the audit log). */
export interface KeyEnd {
  reason: "revoked" | "clone_suspected" | "expired";
  /** Who ended it: `admin-socket`, an admin key id, or the key itself (clone detection, expiry). */
  actor?: string;
  corrId?: string;
}

export const DEFAULT_MAX_WORKERS = 10_000;

/** How long the record of an ended key or token stays listed (then it is dropped): one hour. */
export const ENDED_RECORD_KEEP_MS = 3_600_000;

export const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const TAG_RE = /^[A-Za-z0-9._:-]{1,64}$/;
export const MAX_TAGS = 32;
export const DEFAULT_KEY_TTL_MS = TTL_LIMITS.key.defaultMs;
export const MAX_KEY_TTL_MS = TTL_LIMITS.key.maxMs;

/** A rekey that was answered but whose new key has not been used yet (PROTOCOL.md §6). */
export interface PendingKey {
  macKey: Uint8Array;
  encKey: Uint8Array;
  /** The expiry message 2 announced: the key's expiry once confirmed. */
  expiresAt: number;
  /** The server key the rekey was addressed to (the new credential holds it). */
  serverPublic: Uint8Array;
  /** Made while a rotation was demanded: confirming it completes that rotation. */
  demanded: boolean;
  madeAt: number;
}

export interface KeyRecord {
  id: string;
  kind: "worker" | "admin";
  name: string;
  tags: string[];
  macKey: Uint8Array;
  encKey: Uint8Array;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  via: "issue" | "join" | "run";
  tokenId?: string;
  lastSeenAt: number | null;
  /** Lifetime of each key of this worker; a rekey starts a new one. */
  ttlMs: number;
  /** No key of this worker lives past this (first issue + 30 days). */
  hardExpiresAt: number;
  /** The key replaced by the last confirmed rekey, accepted until `prevUntil` (grace). */
  prevMacKey: Uint8Array | null;
  /** The enc key replaced by the last confirmed rekey (answers to requests signed with prevMacKey are sealed to it). */
  prevEncKey: Uint8Array | null;
  prevUntil: number;
  /** Mac keys rotated away (newest first, a few kept) to recognise a copied credential. */
  retiredMacKeys: Uint8Array[];
  /** The answered, not yet used, rekey (at most one). */
  pending: PendingKey | null;
  /** Pending mac keys replaced by a later rekey (newest first, a few kept): never valid; a use means a copied credential. */
  supersededMacKeys: Uint8Array[];
  /** Set by `hush rotate worker`: every request but rekey/whoami answers rekey_required. */
  rekeyRequired: boolean;
  /** Confirmed rekeys. */
  rekeys: number;
  /** The record's version: 1 when made, bumped by every change a shared registry writes (docs/CLUSTER.md §10). */
  ver: number;
}

/** What listings show: never a key. */
export interface KeyInfo {
  id: string;
  kind: "worker" | "admin";
  name: string;
  tags: string[];
  via: string;
  token_id?: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  last_seen_at: number | null;
  rekeys: number;
  rekey_required: boolean;
  /** A rekey was answered and its new key has not been used yet. */
  rekey_pending: boolean;
  status: "active" | "revoked" | "expired";
}

/** How many rotated-away (and, apart, superseded pending) mac keys are remembered for clone detection. */
export const RETIRED_KEYS_KEPT = 4;

export function validateWorkerName(name: unknown): string {
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new HushError("invalid_request", "name must be 1–64 characters of A-Z a-z 0-9 . _ -");
  }
  return name;
}

export function validateTags(tags: unknown): string[] {
  if (tags === undefined || tags === null) return [];
  if (!Array.isArray(tags) || tags.length > MAX_TAGS || !tags.every((t) => typeof t === "string" && TAG_RE.test(t))) {
    throw new HushError("invalid_request", `tags must be a list of at most ${MAX_TAGS} names of A-Z a-z 0-9 . _ : -`);
  }
  return [...new Set(tags as string[])].sort();
}

export function validateKeyTtl(ttlMs: unknown): number {
  if (ttlMs === undefined) return DEFAULT_KEY_TTL_MS;
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > MAX_KEY_TTL_MS) {
    throw new HushError("invalid_ttl", `ttl_ms must be a positive integer ≤ ${MAX_KEY_TTL_MS} (30 days)`);
  }
  return ttlMs;
}

export class KeyRegistry {
  protected readonly keys = new Map<string, KeyRecord>();
  /** Ids of worker keys neither revoked nor seen expired by `sweep`. */
  protected readonly live = new Set<string>();
  protected readonly maxWorkers: number;
  /** Refusals by limit (`workers`). */
  readonly refusals = new LimitTally();
  /** Called once when a key ends (revoked, or expired as noticed by `sweep`). */
  onEnd?: (rec: KeyRecord, end: KeyEnd) => void;

  constructor(
    protected readonly now: () => number,
    limits: { maxWorkers?: number } = {},
  ) {
    this.maxWorkers = checkLimit(limits.maxWorkers ?? DEFAULT_MAX_WORKERS, "maxWorkers");
  }

  /** Create a key. mac/enc keys are generated unless given (a join passes its handshake keys). */
  create(opts: {
    kind: "worker" | "admin";
    name: unknown;
    tags?: unknown;
    ttlMs?: unknown;
    via: KeyRecord["via"];
    tokenId?: string;
    macKey?: Uint8Array;
    encKey?: Uint8Array;
    /** A pre-allocated id (from `allocateId`), when the id must be known before the keys. */
    id?: string;
  }): KeyRecord {
    const name = validateWorkerName(opts.name);
    const tags = validateTags(opts.tags);
    const ttl = validateKeyTtl(opts.ttlMs);
    const id = opts.id ?? this.allocateId(opts.kind);
    if (this.keys.has(id)) throw new HushError("conflict", "key id already in use");
    if (opts.kind === "worker" && this.live.size >= this.maxWorkers) {
      this.refusals.refuse("workers", "max_items", `at most ${this.maxWorkers} live worker keys (revoke some, or wait for keys to expire)`);
    }
    const t = this.now();
    const rec: KeyRecord = {
      id,
      kind: opts.kind,
      name,
      tags,
      macKey: opts.macKey ?? randomBytes(32),
      encKey: opts.encKey ?? randomBytes(32),
      createdAt: t,
      expiresAt: t + ttl,
      revokedAt: null,
      via: opts.via,
      tokenId: opts.tokenId,
      lastSeenAt: null,
      ttlMs: ttl,
      hardExpiresAt: t + MAX_KEY_TTL_MS,
      prevMacKey: null,
      prevEncKey: null,
      prevUntil: 0,
      retiredMacKeys: [],
      pending: null,
      supersededMacKeys: [],
      rekeyRequired: false,
      rekeys: 0,
      ver: 1,
    };
    this.keys.set(id, rec);
    if (rec.kind === "worker") this.live.add(id);
    return rec;
  }

  /** A fresh, unused key id. */
  allocateId(kind: "worker" | "admin"): string {
    let id: string;
    do id = formatKeyId(kind, randomBytes(12));
    while (this.keys.has(id));
    return id;
  }

  /** The expiry a rekey made now would give: the key lifetime from now, never past the hard cap. */
  rekeyExpiry(rec: KeyRecord): number {
    return Math.min(this.now() + rec.ttlMs, rec.hardExpiresAt);
  }

  /**
   * Record an answered rekey (PROTOCOL.md §6): the new keys are **pending**,
   * and the current key stays in force until `confirm`. A pending key made
   * before replaces nothing any more: it is wiped and its mac key kept (a
   * few) only to recognise a copied credential. Takes ownership of the keys.
   * Returns whether an earlier pending key was superseded.
   */
  rekey(rec: KeyRecord, keys: { macKey: Uint8Array; encKey: Uint8Array; serverPublic: Uint8Array; expiresAt: number }): boolean {
    const superseded = rec.pending !== null;
    if (rec.pending) {
      rec.supersededMacKeys.unshift(rec.pending.macKey);
      for (const old of rec.supersededMacKeys.splice(RETIRED_KEYS_KEPT)) wipe(old);
      wipe(rec.pending.encKey);
    }
    rec.pending = { ...keys, demanded: rec.rekeyRequired, madeAt: this.now() };
    return superseded;
  }

  /**
   * The pending key's first use: it becomes the current key. The old mac
   * key stays valid for `graceMs` for requests already in flight — not at
   * all when the rekey completed a demanded rotation (the old key could then
   * only rekey and ask whoami anyway) — and is remembered afterwards only to
   * recognise a copied credential. Clears `rekeyRequired` only for a rekey
   * made while it was set. No-op without a pending key.
   */
  confirm(rec: KeyRecord, graceMs: number): void {
    const p = rec.pending;
    if (!p) return;
    const now = this.now();
    rec.retiredMacKeys.unshift(rec.macKey);
    for (const old of rec.retiredMacKeys.splice(RETIRED_KEYS_KEPT)) wipe(old);
    wipe(rec.prevEncKey);
    if (p.demanded) {
      wipe(rec.encKey);
      rec.prevMacKey = null;
      rec.prevEncKey = null;
      rec.prevUntil = 0;
      rec.rekeyRequired = false;
    } else {
      rec.prevMacKey = rec.macKey;
      rec.prevEncKey = rec.encKey;
      rec.prevUntil = now + graceMs;
    }
    rec.macKey = p.macKey;
    rec.encKey = p.encKey;
    rec.expiresAt = Math.min(p.expiresAt, rec.hardExpiresAt);
    rec.pending = null;
    rec.rekeys++;
  }

  get(id: string): KeyRecord | undefined {
    return this.keys.get(id);
  }

  /** `hush rotate worker`: every request but rekey/whoami answers `rekey_required` until a rekey; returns the flag as it was (for `undoDemand`). */
  demandRekey(rec: KeyRecord): boolean {
    const was = rec.rekeyRequired;
    rec.rekeyRequired = true;
    return was;
  }

  /** Take back `demandRekey` (its change could not be recorded). */
  undoDemand(rec: KeyRecord, was: boolean): void {
    rec.rekeyRequired = was;
  }

  /**
   * A shared registry (src/cluster): the record of `id` as the backend holds
   * it now, cached; undefined here (this registry is the only copy).
   */
  fetch(_id: string): Promise<KeyRecord | undefined> | undefined {
    return undefined;
  }

  /** A shared registry: resolves once every change made so far is in the backend (rejects `unavailable` or `conflict`); undefined here. */
  flush(): Promise<void> | undefined {
    return undefined;
  }

  /** A shared registry: load every record the backend holds (before a listing); undefined here. */
  refresh(): Promise<void> | undefined {
    return undefined;
  }

  /**
   * Revoke a key; its secrets are wiped at once (it can never be used
   * again) and `onEnd` runs (once). `not_found` for an unknown id.
   */
  revoke(id: string, end: KeyEnd = { reason: "revoked" }): KeyRecord {
    const rec = this.keys.get(id);
    if (!rec) throw new HushError("not_found", `no key with id ${id}`);
    if (rec.revokedAt === null) {
      rec.revokedAt = this.now();
      wipeKeys(rec);
      this.live.delete(id);
      this.onEnd?.(rec, end);
    }
    return rec;
  }

  /**
   * Take back a key that was just created and never used (its change could
   * not be recorded): the record is gone, its secrets wiped, and `onEnd`
   * does not run. Unknown ids are ignored.
   */
  discard(id: string): void {
    const rec = this.keys.get(id);
    if (!rec) return;
    this.keys.delete(id);
    this.live.delete(id);
    wipeKeys(rec);
  }

  info(rec: KeyRecord): KeyInfo {
    const now = this.now();
    return {
      id: rec.id,
      kind: rec.kind,
      name: rec.name,
      tags: rec.tags,
      via: rec.via,
      ...(rec.tokenId ? { token_id: rec.tokenId } : {}),
      created_at: rec.createdAt,
      expires_at: rec.expiresAt,
      revoked_at: rec.revokedAt,
      last_seen_at: rec.lastSeenAt,
      rekeys: rec.rekeys,
      rekey_required: rec.rekeyRequired,
      rekey_pending: rec.pending !== null,
      status: rec.revokedAt !== null ? "revoked" : rec.expiresAt <= now ? "expired" : "active",
    };
  }

  list(): KeyInfo[] {
    return [...this.keys.values()].map((r) => this.info(r));
  }

  /** Active and known keys of one kind (workers by default). */
  count(kind: "worker" | "admin" = "worker"): { active: number; total: number } {
    const now = this.now();
    let active = 0;
    let total = 0;
    for (const r of this.keys.values()) {
      if (r.kind !== kind) continue;
      total++;
      if (r.revokedAt === null && r.expiresAt > now) active++;
    }
    return { active, total };
  }

  /**
   * Wipe key material of expired keys; records stay for listings for
   * `keepMs` after they expired or were revoked, then are dropped (a
   * long-running controller with many joins must not grow without bound).
   */
  sweep(keepMs = ENDED_RECORD_KEEP_MS): void {
    const now = this.now();
    const ended: [string, number][] = [];
    for (const [id, r] of this.keys) {
      if (r.revokedAt === null && r.expiresAt <= now && this.live.delete(id)) this.onEnd?.(r, { reason: "expired", actor: id });
      const endedAt = r.revokedAt ?? (r.expiresAt <= now ? r.expiresAt : null);
      if (endedAt !== null && endedAt + keepMs < now) {
        wipeKeys(r);
        this.keys.delete(id);
        continue;
      }
      if (endedAt !== null) ended.push([id, endedAt]);
      if (r.expiresAt <= now) wipeKeys(r);
      else if (r.prevMacKey && r.prevUntil < now) {
        r.prevMacKey = null; // still in retiredMacKeys
        wipe(r.prevEncKey);
        r.prevEncKey = null;
      }
    }
    // Many short-lived keys: drop the records that ended first, beyond twice the live bound.
    const excess = this.keys.size - 2 * this.maxWorkers;
    if (excess > 0) {
      ended.sort((a, b) => a[1] - b[1]);
      for (const [id] of ended.slice(0, excess)) {
        wipeKeys(this.keys.get(id)!);
        this.keys.delete(id);
      }
    }
  }

  wipe(): void {
    for (const r of this.keys.values()) wipeKeys(r);
    this.keys.clear();
    this.live.clear();
  }
}

export function wipeKeys(r: KeyRecord): void {
  wipe(r.macKey, r.encKey, r.prevMacKey, r.prevEncKey, r.pending?.macKey, r.pending?.encKey, ...r.retiredMacKeys, ...r.supersededMacKeys);
  r.prevMacKey = null;
  r.prevEncKey = null;
  r.pending = null;
  r.retiredMacKeys = [];
  r.supersededMacKeys = [];
}
