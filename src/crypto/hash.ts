/**
 * SHA-256, HMAC-SHA256 (RFC 2104) and HKDF-SHA256 (RFC 5869).
 *
 * HMAC is on the hot path (every request and response), so it uses the
 * native implementation when one exists (Bun.CryptoHasher, else node:crypto)
 * and @noble/hashes is kept as the reference; test/crypto checks all of them
 * against RFC 4231 vectors and against each other.
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { createHash, createHmac } from "node:crypto";
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";

type Input = Uint8Array | string;

const BunHasher: any = (globalThis as any).Bun?.CryptoHasher;

/** SHA-256 digest (32 bytes). */
export function sha256(data: Input): Uint8Array {
  if (BunHasher) return new Uint8Array(new BunHasher("sha256").update(data).digest() as Uint8Array);
  return new Uint8Array(createHash("sha256").update(data).digest());
}

const BunSha256: any = (globalThis as any).Bun?.SHA256;

/** Node's one-shot `crypto.hash` (Node ≥ 20.12 / 21.7): no hasher object; undefined on older Node. */
const nodeHash = (nodeCrypto as { hash?: (alg: string, data: Input, enc: "hex") => string }).hash;

/** Lower-case hex SHA-256 (request/response body hashes, PROTOCOL.md §3); a one-shot hash where the runtime has one (no hasher object). */
export function sha256Hex(data: Input): string {
  if (BunSha256) return BunSha256.hash(data, "hex");
  if (nodeHash) return nodeHash("sha256", data, "hex");
  return createHash("sha256").update(data).digest("hex");
}

/** HMAC-SHA256(key, data), 32 bytes, native implementation. */
export function hmacSha256(key: Uint8Array, data: Input): Uint8Array {
  // Copy the 32 bytes: Buffer#buffer is slow (and could be a shared pool).
  if (BunHasher) return new Uint8Array(new BunHasher("sha256", key).update(data).digest() as Uint8Array);
  return new Uint8Array(createHmac("sha256", key).update(data).digest());
}

/** HMAC-SHA256(key, data) as base64url without padding (43 chars): the request/response signature form, no byte-array round trip. */
export function hmacSha256B64u(key: Uint8Array, data: Input): string {
  if (BunHasher) return new BunHasher("sha256", key).update(data).digest("base64url");
  return createHmac("sha256", key).update(data).digest("base64url");
}

/**
 * `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2):
 * base64(SHA-1(key ‖ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). SHA-1 here is
 * the handshake's fixed algorithm, not a security boundary.
 */
export function wsAccept(key: string): string {
  return createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
}

/** Reference HMAC-SHA256 from @noble/hashes (used by tests and the Noise layer). */
export function hmacSha256Noble(key: Uint8Array, data: Uint8Array): Uint8Array {
  return nobleHmac(nobleSha256, key, data);
}

/** Reference SHA-256 from @noble/hashes. */
export function sha256Noble(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** HKDF-SHA256 (RFC 5869): extract-then-expand to `length` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array | string, length: number): Uint8Array {
  return nobleHkdf(nobleSha256, ikm, salt, typeof info === "string" ? new TextEncoder().encode(info) : info, length);
}
