/**
 * Request verification (PROTOCOL.md §3). Checks, in this order, stopping at
 * the first failure: header well-formed → key known, not revoked, not expired
 * → |now − ts| ≤ window → signature (constant time) → nonce unseen.
 *
 * Failures return a precise `reason` for audit and metrics; the client only
 * ever sees the generic `auth_failed`.
 * @module
 */
import { equalStrings, hmacSha256B64u, macState } from "../crypto/index.ts";
import { parseAuthorization } from "./header.ts";
import { buildStringToSign } from "./sign.ts";
import { NonceCache, type RememberResult, type ReplayCache } from "./nonces.ts";

export type AuthReason =
  | "malformed"
  | "unknown_key"
  | "revoked"
  | "expired_key"
  | "stale_timestamp"
  | "bad_signature"
  | "replayed_nonce"
  | "nonce_cache_full"
  | "retired_key";

/** The part of a key record the verifier needs. */
export interface VerifiableKey {
  id: string;
  macKey: Uint8Array;
  expiresAt: number;
  revokedAt: number | null;
  /** The key of an answered rekey, not used yet: its first use confirms it (PROTOCOL.md §6). */
  pending?: { macKey: Uint8Array } | null;
  /** The key replaced by the last confirmed rekey, valid until `prevUntil` (grace period). */
  prevMacKey?: Uint8Array | null;
  prevUntil?: number;
  /** Keys rotated away: a valid signature under one of them means a copied credential. */
  retiredMacKeys?: Uint8Array[];
  /** Pending keys replaced by a later rekey: never valid; a signature under one means a copied credential. */
  supersededMacKeys?: Uint8Array[];
  /** The record's version, where a shared registry changes records in place (docs/CLUSTER.md §10). */
  ver?: number;
}

/**
 * Which of a worker's keys signed: the current one, the pending one (its
 * first use), the previous one (in grace), a retired one, or a superseded
 * pending one. The caller decides what each means (§3 step 8, §6).
 */
export type KeyGeneration = "current" | "pending" | "previous" | "retired" | "superseded";

export type VerifyResult<K> =
  | { ok: true; key: K; signature: string; keyId: string; generation: KeyGeneration; macKey: Uint8Array }
  /** `keyId`: a known key's id (absent when the header is malformed or names no known key). */
  | { ok: false; reason: AuthReason; keyId?: string; key?: K };

export interface VerifierOptions<K extends VerifiableKey> {
  lookup: (id: string) => K | undefined;
  now: () => number;
  windowMs?: number;
  nonceCacheMax?: number;
  /** Most replay-cache entries of one key (its share); default: the whole cache. */
  nonceCachePerKey?: number;
  /** A replay cache to use instead of a new in-memory one (a shared cache: docs/CLUSTER.md §5). */
  replay?: ReplayCache;
  /**
   * Keys shared by several daemons (docs/CLUSTER.md §10): the record as
   * stored now, for a key id `lookup` does not know and for a signature
   * that did not verify (a rekey answered by another daemon). The shared
   * replay cache may change a record in place while it answers (its `ver`
   * then differs): the request is checked again against the new record.
   */
  fetch?: (id: string) => Promise<K | undefined>;
}

export class RequestVerifier<K extends VerifiableKey> {
  readonly windowMs: number;
  /** The replay cache: in memory (`NonceCache`) unless another was given. */
  readonly nonces: ReplayCache;
  private readonly lookup: (id: string) => K | undefined;
  private readonly fetch: ((id: string) => Promise<K | undefined>) | undefined;
  private readonly now: () => number;

  constructor(opts: VerifierOptions<K>) {
    this.windowMs = opts.windowMs ?? 60_000;
    const max = opts.nonceCacheMax ?? 2_000_000; // DEFAULTS.nonceCacheMax (src/config)
    this.nonces = opts.replay ?? new NonceCache(max, this.windowMs, Math.min(max, opts.nonceCachePerKey ?? max));
    this.lookup = opts.lookup;
    this.fetch = opts.fetch;
    this.now = opts.now;
  }

  /**
   * The result, synchronously with the in-memory replay cache; a promise
   * with a shared one, which rejects with its `unavailable` error when the
   * nonce could not be recorded (the request is then not accepted).
   */
  verify(method: string, target: string, authorization: string | null, bodyHash: string): VerifyResult<K> | Promise<VerifyResult<K>> {
    const p = parseAuthorization(authorization);
    if (!p) return { ok: false, reason: "malformed" };
    const key = this.lookup(p.keyId);
    // An unknown key id is the client's own text: never handed on to be logged (the masker would
    // confirm a guess of a secret that it contains; SECURITY.md, "Information disclosure").
    if (!key) return this.fetch ? this.fetch(p.keyId).then((k) => (k ? this.verifyKey(k, p, method, target, bodyHash, false) : UNKNOWN)) : UNKNOWN;
    return this.verifyKey(key, p, method, target, bodyHash, this.fetch !== undefined);
  }

  /** Steps 2–7 with `key`; `refetch`: on a bad signature, fetch the record once and try again if it changed. */
  private verifyKey(key: K, p: ParsedAuth, method: string, target: string, bodyHash: string, refetch: boolean): VerifyResult<K> | Promise<VerifyResult<K>> {
    const now = this.now();
    const sts = buildStringToSign(method, target, p.timestamp, p.nonce, bodyHash);
    const checked = this.check(key, p, sts, now);
    if (!checked.ok) {
      if (!refetch || checked.reason !== "bad_signature") return checked;
      const ver = key.ver;
      return this.fetch!(p.keyId).then((k) => (k && k.ver !== ver ? this.verifyKey(k, p, method, target, bodyHash, false) : checked));
    }
    const ver = key.ver;
    const r = this.nonces.remember(p.keyId, p.nonce, p.timestamp, now);
    if (!(r instanceof Promise)) return _remembered(r, checked, p.keyId);
    // A shared cache may have brought a newer record (revoked, rekeyed): check again against it.
    return r.then((x) => (x === "ok" && key.ver !== ver ? this.check(key, p, sts, this.now()) : _remembered(x, checked, p.keyId)));
  }

  /** Steps 2–6: known, not revoked, not expired, fresh, signed by one of the key's MAC keys. */
  private check(key: K, p: ParsedAuth, sts: string, now: number): VerifyResult<K> {
    if (key.revokedAt !== null) return { ok: false, reason: "revoked", keyId: p.keyId };
    if (key.expiresAt <= now) return { ok: false, reason: "expired_key", keyId: p.keyId };
    if (Math.abs(now - p.timestamp) > this.windowMs) return { ok: false, reason: "stale_timestamp", keyId: p.keyId };
    // The header regex admits only canonical base64url of 32 bytes, so equal strings ⇔ equal MACs.
    const given = p.signature;
    let generation: KeyGeneration = "current";
    let macKey = key.macKey;
    // The current key's keyed state is kept with it (src/crypto/mac.ts); the rarer older keys are keyed per use.
    if (!equalStrings(macState(macKey).b64u(sts), given)) {
      const found = this.matchOld(key, sts, given, now);
      if (!found) return { ok: false, reason: "bad_signature", keyId: p.keyId };
      [generation, macKey] = found;
    }
    return { ok: true, key, signature: p.signature, keyId: p.keyId, generation, macKey };
  }

  /** Try the pending key, the previous key (inside its grace period), the retired ones, then the superseded ones. */
  private matchOld(key: K, sts: string, given: string, now: number): [KeyGeneration, Uint8Array] | null {
    const pending = key.pending?.macKey;
    if (pending && equalStrings(hmacSha256B64u(pending, sts), given)) return ["pending", pending];
    if (key.prevMacKey && (key.prevUntil ?? 0) >= now && equalStrings(hmacSha256B64u(key.prevMacKey, sts), given)) {
      return ["previous", key.prevMacKey];
    }
    for (const old of key.retiredMacKeys ?? []) {
      if (equalStrings(hmacSha256B64u(old, sts), given)) return ["retired", old];
    }
    for (const old of key.supersededMacKeys ?? []) {
      if (equalStrings(hmacSha256B64u(old, sts), given)) return ["superseded", old];
    }
    return null;
  }
}

const UNKNOWN = { ok: false, reason: "unknown_key" } as const;

type ParsedAuth = NonNullable<ReturnType<typeof parseAuthorization>>;

function _remembered<K>(r: RememberResult, accepted: VerifyResult<K>, keyId: string): VerifyResult<K> {
  if (r === "ok") return accepted;
  return { ok: false, reason: r === "replay" ? "replayed_nonce" : "nonce_cache_full", keyId };
}
