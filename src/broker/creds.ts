/**
 * Credentials held for workers (PROTOCOL.md §7): named secrets with an
 * allow-list of tags, handed out under leases.
 *
 * - shared: every allowed worker may hold the value at once;
 * - exclusive: a pool of values (e.g. test accounts); each value is held by
 *   at most one lease at a time, until it is returned or its lease expires;
 *   `conflict` when none is free.
 *
 * Policy is default deny: a worker may check a credential out only when one
 * of its tags is in the credential's allow-list (`*` allows every worker).
 * Values are kept as bytes and zero-filled when replaced, deleted or wiped.
 * @module
 */
import { HushError } from "../errors.ts";
import { TTL_LIMITS, randomBytes, wipe } from "./_deps.ts";
import { toB64u } from "../crypto/index.ts";
import { checkLimit, LimitTally, validateName } from "./limits.ts";
import { IndexedHeap, IntHeap, type HeapItem } from "./heap.ts";

export type CredMode = "shared" | "exclusive";

export const DEFAULT_LEASE_MS = TTL_LIMITS.lease.defaultMs;
export const MAX_LEASE_MS = TTL_LIMITS.lease.maxMs;
export const MAX_CRED_VALUES = 10_000;

/** What one daemon's credentials may hold (SECURITY.md "Limits"). */
export interface CredLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Most credentials. */
  maxCreds: number;
  /**
   * Most live credential leases held by one worker key, over all credentials
   * (shared ones count). There is no cap per credential: an exclusive one
   * is bounded by its values, and a cap on a shared one's leases would let
   * a few keys lock every other worker out of it for a lease's life (24 h);
   * this cap and the worker cap bound the leases in memory instead.
   */
  maxLeasesPerWorker: number;
}

export const DEFAULT_CRED_LIMITS: Omit<CredLimits, "maxKeyBytes" | "maxValueBytes"> = Object.freeze({
  maxCreds: 1_000,
  maxLeasesPerWorker: 1_000,
});

class Lease implements HeapItem {
  _h = -1;
  constructor(
    readonly id: string,
    readonly cred: Cred,
    /** Index of the value (exclusive mode) or 0. */
    readonly slot: number,
    readonly holder: string,
    readonly expiresAt: number,
  ) {}
}

export interface Cred {
  name: string;
  values: Uint8Array[];
  allow: string[];
  mode: CredMode;
  version: number;
  source: string;
  updatedAt: number;
  /** Live leases (and expired ones not yet purged). */
  leases: Set<Lease>;
  /** Exclusive mode: the free value indexes, lowest first. */
  free: IntHeap | null;
}

/** A lease that ended because its holder's key did (revoked, or expired). */
export interface EndedLease {
  leaseId: string;
  cred: string;
}

export interface CredInfo {
  name: string;
  mode: CredMode;
  allow: string[];
  values: number;
  in_use: number;
  version: number;
  source: string;
  updated_at: number;
}

export interface Checkout {
  leaseId: string;
  expiresAt: number;
  value: Uint8Array;
  version: number;
  mode: CredMode;
}

const TAG_RE = /^(\*|[A-Za-z0-9._:-]{1,64})$/;

export function validateAllow(allow: unknown): string[] {
  if (allow === undefined) return [];
  if (!Array.isArray(allow) || allow.length > 64 || !allow.every((t) => typeof t === "string" && TAG_RE.test(t))) {
    throw new HushError("invalid_request", "allow must be a list of tags (A-Z a-z 0-9 . _ : -) or \"*\"");
  }
  return [...new Set(allow as string[])].sort();
}

/** Default deny: allowed when a worker tag is in the allow-list, or the list holds "*". */
export function isAllowed(allow: string[], workerTags: string[]): boolean {
  if (allow.includes("*")) return true;
  return workerTags.some((t) => allow.includes(t));
}

/**
 * Cost model: checkout, return and the end of one lease are O(log n) in the
 * number of live leases (an expiry heap, a per-credential lease set, a
 * per-holder lease set and, for exclusive credentials, a heap of free value
 * indexes); `sweep` is O(log n) per expired lease and O(1) when none has
 * expired; `info` is O(1) after that purge. Nothing scans all leases.
 */
export class CredentialStore {
  private readonly creds = new Map<string, Cred>();
  private readonly leases = new Map<string, Lease>();
  private readonly byHolder = new Map<string, Set<Lease>>();
  private readonly expiry = new IndexedHeap<Lease>((l) => l.expiresAt);
  private readonly limits: CredLimits;
  /** Refusals by limit (`creds`, `leases_per_worker`). */
  readonly refusals = new LimitTally();

  /** Called when a credential is replaced or deleted (a shared lease book ends its leases). */
  onDrop: ((name: string) => void) | undefined;

  constructor(
    private readonly now: () => number,
    limits: Pick<CredLimits, "maxKeyBytes" | "maxValueBytes"> & Partial<CredLimits>,
  ) {
    this.limits = {
      maxKeyBytes: limits.maxKeyBytes,
      maxValueBytes: limits.maxValueBytes,
      maxCreds: checkLimit(limits.maxCreds ?? DEFAULT_CRED_LIMITS.maxCreds, "maxCreds"),
      maxLeasesPerWorker: checkLimit(limits.maxLeasesPerWorker ?? DEFAULT_CRED_LIMITS.maxLeasesPerWorker, "maxLeasesPerWorker"),
    };
  }

  /**
   * Create or replace a credential. Takes ownership of `values` (wiped when
   * dropped). `allow` absent: a replaced credential keeps its allow-list, a
   * new one allows nobody; `[]` allows nobody. A new name past `maxCreds`
   * -> `max_items`.
   */
  put(name: string, values: Uint8Array[], opts: { allow?: unknown; mode?: unknown; source?: string } = {}): CredInfo {
    const checked = this.checkPut(name, values, opts);
    const mode = checked.mode;
    const old = this.creds.get(name);
    // Replacing a value keeps its allow-list unless a new one is given: rotating a
    // password must not cut every worker off. A new credential allows nobody.
    const allow = opts.allow === undefined && old ? [...old.allow] : checked.allow;
    if (old) this.drop(old);
    if (old) this.onDrop?.(name);
    const c: Cred = {
      name, values, allow, mode,
      version: (old?.version ?? 0) + 1,
      source: opts.source ?? "admin",
      updatedAt: this.now(),
      leases: new Set(),
      free: mode === "exclusive" ? new IntHeap(values.length) : null,
    };
    this.creds.set(name, c);
    return this.info(c);
  }

  /**
   * Everything `put` checks, changing nothing: after it passes, `put` with
   * the same arguments cannot fail. Returns the mode and allow list.
   */
  checkPut(name: string, values: Uint8Array[], opts: { allow?: unknown; mode?: unknown } = {}): { mode: CredMode; allow: string[] } {
    validateName(name, this.limits, "credential name");
    const mode = opts.mode ?? "shared";
    if (mode !== "shared" && mode !== "exclusive") throw new HushError("invalid_request", "mode must be shared or exclusive");
    const allow = validateAllow(opts.allow);
    if (values.length === 0) throw new HushError("invalid_request", "a credential needs at least one value");
    if (values.length > MAX_CRED_VALUES) throw new HushError("too_large", `at most ${MAX_CRED_VALUES} values`);
    if (mode === "shared" && values.length !== 1) throw new HushError("invalid_request", "a shared credential has exactly one value (use mode exclusive for a pool)");
    for (const v of values) {
      if (v.length === 0) throw new HushError("invalid_request", "credential values must not be empty");
      if (v.length > this.limits.maxValueBytes) throw new HushError("too_large", `a credential value is over ${this.limits.maxValueBytes} bytes`);
    }
    if (!this.creds.has(name) && this.creds.size >= this.limits.maxCreds) {
      this.refusals.refuse("creds", "max_items", `at most ${this.limits.maxCreds} credentials (delete one first)`);
    }
    return { mode, allow };
  }

  delete(name: string): CredInfo {
    const c = this.creds.get(name);
    if (!c) throw new HushError("not_found", "no such credential");
    const info = this.info(c);
    this.drop(c);
    this.creds.delete(name);
    this.onDrop?.(name);
    return info;
  }

  private drop(c: Cred): void {
    wipe(...c.values);
    for (const l of [...c.leases]) this.end(l);
  }

  has(name: string): boolean {
    return this.creds.has(name);
  }

  /**
   * Check a credential out for `holder` (a worker id) with `tags`.
   * The returned `value` is the stored buffer: seal it before any await.
   * Errors: `not_found`, `forbidden` (tags), `invalid_ttl`, `conflict` (no
   * free value of an exclusive credential), `max_items` (the holder has
   * `maxLeasesPerWorker` live leases).
   */
  checkout(name: string, holder: string, tags: string[], ttlMs?: number): Checkout {
    const { c, ttl } = this.checkRequest(name, tags, ttlMs);
    const now = this.now();
    this.purge(now);
    if (c.free && c.free.size === 0) throw new HushError("conflict", "every value of this credential is checked out");
    const mine = this.byHolder.get(holder);
    if (mine && mine.size >= this.limits.maxLeasesPerWorker) {
      this.refusals.refuse("leases_per_worker", "max_items", `this worker holds ${this.limits.maxLeasesPerWorker} live credential leases (the most allowed); return some first`);
    }
    const slot = c.free ? c.free.pop() : 0;
    const lease = new Lease("l_" + toB64u(randomBytes(12)), c, slot, holder, now + ttl);
    this.leases.set(lease.id, lease);
    c.leases.add(lease);
    if (mine) mine.add(lease);
    else this.byHolder.set(holder, new Set([lease]));
    this.expiry.push(lease);
    return { leaseId: lease.id, expiresAt: lease.expiresAt, value: c.values[slot], version: c.version, mode: c.mode };
  }

  /**
   * What every checkout checks first: the credential, the worker's tags,
   * the TTL (ms). `not_found`, `forbidden`, `invalid_ttl`.
   */
  checkRequest(name: string, tags: string[], ttlMs?: number): { c: Cred; ttl: number } {
    const c = this.creds.get(name);
    if (!c) throw new HushError("not_found", "no such credential");
    if (!isAllowed(c.allow, tags)) throw new HushError("forbidden", "this worker's tags do not allow this credential");
    const ttl = ttlMs ?? DEFAULT_LEASE_MS;
    if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_LEASE_MS) throw new HushError("invalid_ttl", `ttl_ms must be a positive integer ≤ ${MAX_LEASE_MS}`);
    return { c, ttl };
  }

  /** The credential now held under `name` (compare with `===` to see a replacement), or undefined. */
  current(name: string): Cred | undefined {
    return this.creds.get(name);
  }

  /** The cap of live leases per worker (`maxLeasesPerWorker`). */
  get leaseCap(): number {
    return this.limits.maxLeasesPerWorker;
  }

  /** Return a lease early; only its holder may. */
  giveBack(leaseId: string, holder: string): { returned: true; cred: string } {
    const l = this.leaseOf(leaseId, holder);
    this.end(l);
    return { returned: true, cred: l.cred.name };
  }

  /** Everything `giveBack` checks, changing nothing: the name of the lease's credential. `not_found`, `forbidden`. */
  checkGiveBack(leaseId: string, holder: string): string {
    return this.leaseOf(leaseId, holder).cred.name;
  }

  private leaseOf(leaseId: string, holder: string): Lease {
    const l = this.leases.get(leaseId);
    if (!l || l.expiresAt <= this.now()) throw new HushError("not_found", "no such lease");
    if (l.holder !== holder) throw new HushError("forbidden", "this lease belongs to another worker");
    return l;
  }

  /** End every live lease of `holder` (its key was revoked or expired). O(k log n). */
  endHolder(holder: string): EndedLease[] {
    const mine = this.byHolder.get(holder);
    if (!mine) return [];
    const now = this.now();
    const out: EndedLease[] = [];
    for (const l of [...mine]) {
      if (l.expiresAt > now) out.push({ leaseId: l.id, cred: l.cred.name });
      this.end(l);
    }
    return out;
  }

  /** Live leases held by `holder`. */
  heldBy(holder: string): number {
    this.purge(this.now());
    return this.byHolder.get(holder)?.size ?? 0;
  }

  info(c: Cred): CredInfo {
    this.purge(this.now());
    return { name: c.name, mode: c.mode, allow: c.allow, values: c.values.length, in_use: c.leases.size, version: c.version, source: c.source, updated_at: c.updatedAt };
  }

  list(): CredInfo[] {
    return [...this.creds.values()].map((c) => this.info(c)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** `list` (CredCheckouts, src/broker/cred-share.ts). */
  listInUse(): CredInfo[] {
    return this.list();
  }

  /** End every expired lease: O(log n) each, O(1) when none has expired. */
  sweep(): void {
    this.purge(this.now());
  }

  get size(): number {
    return this.creds.size;
  }

  /** Live leases (and expired ones not yet swept). */
  get leaseCount(): number {
    return this.leases.size;
  }

  wipe(): void {
    for (const c of this.creds.values()) wipe(...c.values);
    this.creds.clear();
    this.leases.clear();
    this.byHolder.clear();
    this.expiry.clear();
  }

  private purge(now: number): void {
    for (let l = this.expiry.peek(); l !== undefined && l.expiresAt <= now; l = this.expiry.peek()) this.end(l);
  }

  /** Remove a lease from every index and free its value. */
  private end(l: Lease): void {
    if (!this.leases.delete(l.id)) return;
    this.expiry.remove(l);
    l.cred.leases.delete(l);
    l.cred.free?.push(l.slot);
    const mine = this.byHolder.get(l.holder);
    if (mine) {
      mine.delete(l);
      if (mine.size === 0) this.byHolder.delete(l.holder);
    }
  }
}
