/**
 * Request verification (PROTOCOL.md §3). Checks, in this order, stopping at
 * the first failure: header well-formed → key known, not revoked, not expired
 * → |now − ts| ≤ window → signature (constant time) → nonce unseen.
 *
 * Failures return a precise `reason` for audit and metrics; the client only
 * ever sees the generic `auth_failed`.
 * @module
 */
import { equalBytes, fromB64u, hmacSha256 } from "../crypto/index.ts";
import { parseAuthorization } from "./header.ts";
import { buildStringToSign } from "./sign.ts";
import { NonceCache } from "./nonces.ts";

export type AuthReason =
  | "malformed"
  | "unknown_key"
  | "revoked"
  | "expired_key"
  | "stale_timestamp"
  | "bad_signature"
  | "replayed_nonce"
  | "nonce_cache_full";

/** The part of a key record the verifier needs. */
export interface VerifiableKey {
  id: string;
  macKey: Uint8Array;
  expiresAt: number;
  revokedAt: number | null;
}

export type VerifyResult<K> =
  | { ok: true; key: K; signature: string; keyId: string }
  | { ok: false; reason: AuthReason; keyId?: string };

export interface VerifierOptions<K extends VerifiableKey> {
  lookup: (id: string) => K | undefined;
  now: () => number;
  windowMs?: number;
  nonceCacheMax?: number;
}

export class RequestVerifier<K extends VerifiableKey> {
  readonly windowMs: number;
  readonly nonces: NonceCache;
  private readonly lookup: (id: string) => K | undefined;
  private readonly now: () => number;

  constructor(opts: VerifierOptions<K>) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.nonces = new NonceCache(opts.nonceCacheMax ?? 1_000_000, this.windowMs);
    this.lookup = opts.lookup;
    this.now = opts.now;
  }

  verify(method: string, target: string, authorization: string | null, bodyHash: string): VerifyResult<K> {
    const p = parseAuthorization(authorization);
    if (!p) return { ok: false, reason: "malformed" };
    const key = this.lookup(p.keyId);
    if (!key) return { ok: false, reason: "unknown_key", keyId: p.keyId };
    if (key.revokedAt !== null) return { ok: false, reason: "revoked", keyId: p.keyId };
    const now = this.now();
    if (key.expiresAt <= now) return { ok: false, reason: "expired_key", keyId: p.keyId };
    if (Math.abs(now - p.timestamp) > this.windowMs) return { ok: false, reason: "stale_timestamp", keyId: p.keyId };
    const expected = hmacSha256(key.macKey, buildStringToSign(method, target, p.timestamp, p.nonce, bodyHash));
    if (!equalBytes(expected, fromB64u(p.signature))) return { ok: false, reason: "bad_signature", keyId: p.keyId };
    const r = this.nonces.remember(p.keyId, p.nonce, p.timestamp, now);
    if (r === "replay") return { ok: false, reason: "replayed_nonce", keyId: p.keyId };
    if (r === "full") return { ok: false, reason: "nonce_cache_full", keyId: p.keyId };
    return { ok: true, key, signature: p.signature, keyId: p.keyId };
  }
}
