/**
 * Cryptographically secure randomness (the platform CSPRNG via WebCrypto).
 * @module
 */

/** `n` random bytes from the OS CSPRNG. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues is limited to 65 536 bytes per call.
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
