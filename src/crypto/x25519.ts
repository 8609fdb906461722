/**
 * X25519 (RFC 7748) key agreement. Native node:crypto (BoringSSL in Bun) is
 * ~10x faster than @noble/curves here (BUN-NOTES: 36 µs vs 423 µs), so the
 * native path is used and @noble/curves is the reference checked in tests.
 * Keys cross this boundary as raw 32-byte Uint8Arrays.
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from "node:crypto";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";

// DER prefixes for raw X25519 keys (RFC 8410 §7 / §10).
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function der(prefix: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new TypeError(`x25519: key must be 32 bytes, got ${key.length}`);
  const b = Buffer.alloc(prefix.length + 32);
  b.set(prefix, 0);
  b.set(key, prefix.length);
  return b;
}

function privateKeyObject(secret: Uint8Array) {
  const d = der(PKCS8_PREFIX, secret);
  try {
    return createPrivateKey({ key: d, format: "der", type: "pkcs8" });
  } finally {
    d.fill(0);
  }
}

export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh X25519 key pair from the OS CSPRNG. */
export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const pk8 = privateKey.export({ format: "der", type: "pkcs8" }) as Buffer;
  const spki = publicKey.export({ format: "der", type: "spki" }) as Buffer;
  const secretKey = new Uint8Array(pk8.subarray(pk8.length - 32));
  pk8.fill(0);
  return { secretKey, publicKey: new Uint8Array(spki.subarray(spki.length - 32)) };
}

/** The public key of an X25519 secret key. */
export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: "der", type: "spki" }) as Buffer;
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/**
 * X25519(secret, public). Throws on an all-zero result (small-order public
 * key), as RFC 7748 §6.1 allows and Noise implementations commonly do.
 */
export function x25519(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const pub = createPublicKey({ key: der(SPKI_PREFIX, publicKey), format: "der", type: "spki" });
  const out = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(secretKey), publicKey: pub }));
  let acc = 0;
  for (const b of out) acc |= b;
  if (acc === 0) throw new Error("x25519: low-order public key");
  return out;
}

/** Reference implementation from @noble/curves (tests compare against it). */
export const x25519Noble = {
  publicKey: (s: Uint8Array) => nobleX25519.getPublicKey(s),
  shared: (s: Uint8Array, p: Uint8Array) => nobleX25519.getSharedSecret(s, p),
};
