/**
 * The hashes and MACs of the audit log (PROTOCOL.md §9): the `prev` chain,
 * the format-1 seals and their ratchet, and the HMAC form of values.
 *
 * Chain: `prev` of a line = b64u(SHA-256(bytes of the previous line without
 * its newline)); the first line of a file uses 32 zero bytes.
 *
 * Format-1 seals (hush 0.1.0; verified, no longer written — format 2 is
 * in sealing.ts): each run drew a random k0 and stored it in its `start`
 * line sealed to an X25519 audit public key (context "audit k0");
 * `mac = b64u(HMAC-SHA256(k_e, "HUSH1-SEAL\n" ‖ seq ‖ "\n" ‖ e ‖ "\n" ‖ prev ‖ "\n" ‖ ts))`
 * with epochs counted per run, and `k_{e+1} = HMAC-SHA256(k_e, "HUSH1-RATCHET")`.
 * Anyone with the public key could box a k0 of their own and re-seal a
 * whole run, which is why format 2 replaced it.
 *
 * Value HMAC (the idea and the `hmac-sha256:` prefix come from Vault's audit
 * devices and `audit-hash`). The audit log never holds a secret value (DESIGN.md invariant 2). Where an
 * event must refer to a value — say, to show that two checkouts returned the
 * same credential version, or that a rejected request carried a given
 * client-chosen string — the daemon writes
 *
 *     "hmac-sha256:" ‖ b64u(HMAC-SHA256(K_audit, UTF-8(value)))
 *
 * instead of the value. An admin who has the value can then search for it:
 * `printf %s "$VALUE" | hush audit hash` asks the running daemon (POST
 * /v1/admin/audit/hash, body `{"value"}`, answer `{"hash"}`) for the same
 * form and greps the log for it. Someone who can only read the log cannot
 * test guesses of a low-entropy value, because K_audit never leaves the
 * daemon.
 *
 * Where K_audit comes from (decided here, wired in `hush serve`):
 * - `serve --audit-hmac-key-file FILE`: FILE holds a secret made with
 *   `hush keygen secret --out FILE` (0600); the daemon reads it once and uses
 *   `K_audit = deriveAuditHmacKey(secret)` = HKDF-SHA256(ikm = secret,
 *   salt = none, info = "hush/1 audit hmac", 32). Hashes then stay the same
 *   across restarts, so a value can be searched for in the whole file.
 * - Without it, the daemon draws a random K_audit for the run: hashes match
 *   only within that run.
 * Either way the `start` line records `hmac_key_id` = `auditHmacKeyId(K)`,
 * so a reader can tell which hashes are comparable. The daemon holds K in
 * memory only and wipes it on exit.
 * @module
 */
import { hkdfSha256, hmacSha256, sha256, toB64u, utf8 } from "../crypto/index.ts";

/** `prev` of the first line of a file: b64u of 32 zero bytes. */
export const ZERO_PREV = toB64u(new Uint8Array(32));

/** Format 1: the box context under which a run's k0 was sealed to the audit public key. */
export const K0_BOX_CONTEXT = "audit k0";

/** `prev` for the line after `line` (its bytes, without the newline). */
export function lineHash(line: Uint8Array | string): string {
  return toB64u(sha256(typeof line === "string" ? utf8(line) : line));
}

/** Format 1: the MAC of the seal line with these `seq`, `epoch`, `prev` and `ts`, under k_epoch. */
export function sealMac(key: Uint8Array, seq: number, epoch: number, prev: string, ts: number): string {
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(ts)) throw new TypeError("sealMac: seq, epoch and ts must be integers");
  return toB64u(hmacSha256(key, `HUSH1-SEAL\n${seq}\n${epoch}\n${prev}\n${ts}`));
}

/** Format 1: k_{e+1} = HMAC-SHA256(k_e, "HUSH1-RATCHET"). The caller wipes k_e. */
export function ratchetKey(key: Uint8Array): Uint8Array {
  return hmacSha256(key, "HUSH1-RATCHET");
}

export const AUDIT_HASH_PREFIX = "hmac-sha256:";

/** `hmac-sha256:` + b64u(HMAC-SHA256(key, UTF-8(value))). */
export function auditHash(value: string | Uint8Array, key: Uint8Array): string {
  if (key.length < 32) throw new TypeError("audit hash: key must be at least 32 bytes");
  return AUDIT_HASH_PREFIX + toB64u(hmacSha256(key, typeof value === "string" ? utf8(value) : value));
}

/** The audit HMAC key from a configured secret (≥ 16 bytes): HKDF-SHA256, info "hush/1 audit hmac". */
export function deriveAuditHmacKey(secret: Uint8Array): Uint8Array {
  if (secret.length < 16) throw new TypeError("audit hmac secret: at least 16 bytes");
  return hkdfSha256(secret, undefined, "hush/1 audit hmac", 32);
}

/** A public 12-character id of the key (not reversible): b64u of 9 bytes of HMAC(key, "HUSH1-AUDIT-HMAC-ID"). */
export function auditHmacKeyId(key: Uint8Array): string {
  return toB64u(hmacSha256(key, "HUSH1-AUDIT-HMAC-ID").subarray(0, 9));
}

/** True when `s` has the shape of an audit hash. */
export function isAuditHash(s: string): boolean {
  return /^hmac-sha256:[A-Za-z0-9_-]{43}$/.test(s);
}
