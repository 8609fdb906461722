/**
 * Sealed box: encrypt a small secret (the audit log's per-run sealing key,
 * PROTOCOL.md §9) to an X25519 public key, so that only the holder of the
 * matching secret key can open it. An ECIES construction in the shape of
 * age's X25519 recipient stanza, built only from the primitives exported by
 * this folder (no new primitive, nothing hand-rolled).
 *
 * Construction (`context` is a short ASCII label naming the use, e.g.
 * `"audit k0"`; `‖` is concatenation):
 *
 *     (esk, epk) = a fresh X25519 key pair                       (RFC 7748)
 *     ss         = X25519(esk, recipient)      refused when all-zero (§6.1)
 *     key        = HKDF-SHA256(ikm  = ss,                          (RFC 5869)
 *                              salt = epk ‖ recipient,
 *                              info = "hush/1 box " ‖ context,
 *                              L    = 32)
 *     ct         = ChaCha20-Poly1305(key, nonce = 12 zero bytes,  (RFC 8439)
 *                                    plaintext, aad = empty)
 *     box        = epk (32) ‖ ct (plaintext length + 16)
 *
 * Opening recomputes `ss = X25519(recipient secret, epk)` and the same key,
 * and authenticates `ct`. A zero nonce is safe because every box uses a fresh
 * ephemeral key, so each AEAD key encrypts exactly one message (as in age).
 * The salt binds both public keys, so a box cannot be re-addressed; the
 * context binds the use, so a box made for one purpose does not open as
 * another. A 32-byte key seals to 80 bytes.
 * @module
 */
import { concatBytes, utf8, wipe } from "./bytes.ts";
import { hkdfSha256 } from "./hash.ts";
import { generateX25519, x25519, x25519PublicKey } from "./x25519.ts";
import { openChaCha, sealChaCha } from "./aead.ts";

const NONCE = new Uint8Array(12);
const CONTEXT_RE = /^[\x20-\x7e]{1,64}$/;

/** Bytes a box adds to its plaintext: ephemeral public key + Poly1305 tag. */
export const BOX_OVERHEAD = 32 + 16;

function _boxKey(ss: Uint8Array, epk: Uint8Array, recipient: Uint8Array, context: string): Uint8Array {
  if (!CONTEXT_RE.test(context)) throw new TypeError("box: context must be 1-64 printable ASCII characters");
  return hkdfSha256(ss, concatBytes(epk, recipient), utf8("hush/1 box " + context), 32);
}

/** Seal `plaintext` to the X25519 public key `recipient` (32 bytes). */
export function sealBox(recipient: Uint8Array, plaintext: Uint8Array, context: string): Uint8Array {
  if (recipient.length !== 32) throw new TypeError(`box: recipient public key must be 32 bytes, got ${recipient.length}`);
  const eph = generateX25519();
  let ss: Uint8Array | undefined;
  let key: Uint8Array | undefined;
  try {
    ss = x25519(eph.secretKey, recipient);
    key = _boxKey(ss, eph.publicKey, recipient, context);
    return concatBytes(eph.publicKey, sealChaCha(key, NONCE, plaintext));
  } finally {
    wipe(eph.secretKey, ss, key);
  }
}

/**
 * Open a box with the recipient's X25519 secret key. Throws on a wrong key,
 * a wrong context, or any modification of the box.
 */
export function openBox(recipientSecret: Uint8Array, box: Uint8Array, context: string): Uint8Array {
  if (recipientSecret.length !== 32) throw new TypeError("box: recipient secret key must be 32 bytes");
  if (box.length < BOX_OVERHEAD) throw new Error("box: too short");
  const recipientPublic = x25519PublicKey(recipientSecret);
  const epk = box.subarray(0, 32);
  let ss: Uint8Array | undefined;
  let key: Uint8Array | undefined;
  try {
    ss = x25519(recipientSecret, epk);
    key = _boxKey(ss, epk, recipientPublic, context);
    return openChaCha(key, NONCE, box.subarray(32));
  } finally {
    wipe(ss, key);
  }
}
