/**
 * Every hash and MAC of the audit log (PROTOCOL.md §9): the `prev` chain,
 * the forward-secure seals and their ratchet, and the HMAC form of values.
 *
 * Chain: `prev` of a line = b64u(SHA-256(bytes of the previous line without
 * its newline)); the first line of a file uses 32 zero bytes.
 *
 * Seals: `mac = b64u(HMAC-SHA256(k_e, "HUSH1-SEAL\n" ‖ seq ‖ "\n" ‖ e ‖ "\n" ‖ prev ‖ "\n" ‖ ts))`
 * with `seq`, `e` and `ts` in decimal and `prev` the seal line's own `prev`
 * field (b64u text), all taken from the seal line itself. `prev` commits to
 * every byte before the seal, including the run's `start` line and the
 * sealed key in it; `seq` and `e` bind the seal to its position and epoch
 * (the lesson of journald CVE-2023-31439, whose tags were not bound to their
 * epoch); the run is bound by the key itself, since k0 is drawn at random
 * for each run. `ts` is added to the PROTOCOL.md §9 string so that every
 * field of a seal line is covered: the closing seal is the last line of a
 * file and no later `prev` protects it (the verifier also requires seal
 * lines in canonical form, exactly `seq, ts, type, prev, epoch, mac`). After sealing, the writer ratchets
 * `k_{e+1} = HMAC-SHA256(k_e, "HUSH1-RATCHET")` and wipes `k_e`.
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

/** The box context under which a run's k0 is sealed to the audit public key. */
export const K0_BOX_CONTEXT = "audit k0";

/** `prev` for the line after `line` (its bytes, without the newline). */
export function lineHash(line: Uint8Array | string): string {
  return toB64u(sha256(typeof line === "string" ? utf8(line) : line));
}

/** The MAC of the seal line with these `seq`, `epoch`, `prev` and `ts`, under k_epoch. */
export function sealMac(key: Uint8Array, seq: number, epoch: number, prev: string, ts: number): string {
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(ts)) throw new TypeError("sealMac: seq, epoch and ts must be integers");
  return toB64u(hmacSha256(key, `HUSH1-SEAL\n${seq}\n${epoch}\n${prev}\n${ts}`));
}

/** k_{e+1} = HMAC-SHA256(k_e, "HUSH1-RATCHET"). The caller wipes k_e. */
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
