/**
 * Sealing under the cluster key (docs/CLUSTER.md §4): what several daemons
 * keep in Redis is either sealed (values, names) or an HMAC of it (name and
 * holder ids), under keys derived from the cluster key that Redis never sees.
 *
 * - `K_seal = HKDF-SHA256(K, salt none, "hush cluster v1 seal")`:
 *   XChaCha20-Poly1305 with a random 24-byte nonce; associated data
 *   `hush-cluster/1 ‖ 0x00 ‖ kind ‖ 0x00 ‖ name`, so a record opens only
 *   under the name it was sealed for.
 * - `K_name = HKDF(K, "hush cluster v1 name")`: ids =
 *   b64u(HMAC-SHA256(K_name, kind ‖ 0x00 ‖ name)) cut to 22 characters.
 * - `K_check = HKDF(K, "hush cluster v1 check")`: the check value in
 *   `P meta`, which tells a daemon with another cluster key to stop.
 *
 * A sealed record is the text `1.` ‖ b64u(nonce ‖ ciphertext ‖ tag).
 * @module
 */
import { HushError } from "../errors.ts";
import { concatBytes, fromB64u, hkdfSha256, hmacSha256, openXChaCha, randomBytes, sealXChaCha, toB64u, utf8, wipe } from "../crypto/index.ts";

/** What a sealed record or an id is for (part of the associated data or the HMAC input). */
export type SealKind = "kv" | "name" | "key" | "token";
export type IdKind = "kv" | "lock" | "pool" | "holder" | "cred";

const NONCE = 24;
const ID_CHARS = 22;

export class ClusterSeal {
  private readonly _seal: Uint8Array;
  private readonly _name: Uint8Array;
  /** b64u of the first 16 bytes of HMAC(K_check, "hush cluster key check"): not secret, stored in `P meta`. */
  readonly check: string;

  /** Derive the three keys from the 32-byte cluster key (the caller keeps, and wipes, its own copy). */
  constructor(clusterKey: Uint8Array) {
    if (!(clusterKey instanceof Uint8Array) || clusterKey.length !== 32) throw new HushError("invalid_request", "the cluster key must be 32 bytes");
    this._seal = hkdfSha256(clusterKey, undefined, "hush cluster v1 seal", 32);
    this._name = hkdfSha256(clusterKey, undefined, "hush cluster v1 name", 32);
    const checkKey = hkdfSha256(clusterKey, undefined, "hush cluster v1 check", 32);
    this.check = toB64u(hmacSha256(checkKey, "hush cluster key check").subarray(0, 16));
    wipe(checkKey);
  }

  /** Seal `plain` for the record `kind`/`name`. */
  seal(kind: SealKind, name: string, plain: Uint8Array): string {
    const nonce = randomBytes(NONCE);
    const ct = sealXChaCha(this._seal, nonce, plain, _aad(kind, name));
    return "1." + toB64u(concatBytes(nonce, ct));
  }

  /**
   * Open a record sealed for `kind`/`name`.
   * @throws HushError `internal` ("a sealed record in the state backend did not open")
   *   when it is malformed, was sealed under another cluster key or for another name,
   *   or was changed. The message never holds the record.
   */
  open(kind: SealKind, name: string, sealed: string): Uint8Array {
    try {
      if (typeof sealed !== "string" || !sealed.startsWith("1.")) throw new Error();
      const raw = fromB64u(sealed.slice(2));
      if (raw.length < NONCE + 16) throw new Error();
      return openXChaCha(this._seal, raw.subarray(0, NONCE), raw.subarray(NONCE), _aad(kind, name));
    } catch {
      throw new HushError("internal", "a sealed record in the state backend did not open (another cluster key, or a changed record)");
    }
  }

  /** The id Redis sees instead of a name or a holder: 128 bits of HMAC, base64url. */
  id(kind: IdKind, name: string): string {
    return toB64u(hmacSha256(this._name, kind + "\0" + name)).slice(0, ID_CHARS);
  }

  /** Zero-fill the derived keys (daemon shutdown). */
  wipe(): void {
    wipe(this._seal, this._name);
  }
}

function _aad(kind: SealKind, name: string): Uint8Array {
  return utf8(`hush-cluster/1\0${kind}\0${name}`);
}
