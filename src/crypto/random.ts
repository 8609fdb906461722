/**
 * Cryptographically secure randomness (the platform CSPRNG via WebCrypto).
 * @module
 */
import { toB64u } from "./bytes.ts";

/** `n` random bytes from the OS CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues is limited to 65 536 bytes per call. A small array is filled whole: a subarray
  // view of a fresh small typed array makes the engine give it a separate buffer first (a copy).
  if (n <= 65536) crypto.getRandomValues(out);
  else for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

const POOL_BYTES = 4096;
let pool: Buffer | undefined;
let poolAt = POOL_BYTES;

/**
 * `n` (≤ 4096) random bytes from the OS CSPRNG as base64url without
 * padding, for **public** random values only (request nonces, PROTOCOL.md
 * §3): they are drawn from a pool of CSPRNG output filled 4 KiB at a
 * time, so bytes not yet used stay in memory until they are. Never use it
 * for a key or anything secret (use `randomBytes`, and wipe it).
 */
export function randomB64u(n: number): string {
  if (!(n >= 1 && n <= POOL_BYTES)) throw new RangeError("randomB64u: n must be 1-4096");
  if (typeof Buffer !== "function") return toB64u(randomBytes(n));
  if (pool === undefined || poolAt + n > POOL_BYTES) {
    pool = Buffer.alloc(POOL_BYTES);
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const s = pool.toString("base64url", poolAt, poolAt + n);
  // Used bytes are zero-filled: each value is drawn once.
  pool.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return s;
}
