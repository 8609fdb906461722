/**
 * Byte helpers: UTF-8, hex, base64url, constant-time comparison and wiping.
 * Encodings come from @scure/base; nothing here is hand-rolled crypto.
 * @module
 */
import { base64urlnopad, hex as hexCodec } from "@scure/base";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 encode a string. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** Strict UTF-8 decode; throws on invalid sequences. */
export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

/** Lower-case hex. */
export function toHex(b: Uint8Array): string {
  return hexCodec.encode(b);
}

export function fromHex(s: string): Uint8Array {
  return hexCodec.decode(s);
}

/** base64url without padding (RFC 4648 §5). */
export function toB64u(b: Uint8Array): string {
  return base64urlnopad.encode(b);
}

/** Strict base64url-without-padding decode; throws on bad input. */
export function fromB64u(s: string): Uint8Array {
  return base64urlnopad.decode(s);
}

/**
 * Constant-time equality for equal-length inputs. Length is not secret
 * (MACs and keys have fixed sizes), so a length mismatch returns early.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Zero-fill every given buffer (invariant 7: secrets are wiped when dropped). */
export function wipe(...bufs: (Uint8Array | undefined | null)[]): void {
  for (const b of bufs) if (b) b.fill(0);
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
