/**
 * Byte helpers: UTF-8, hex, base64url, constant-time comparison and wiping.
 * Encodings come from @scure/base; nothing here is hand-rolled crypto.
 * @module
 */
import { base64urlnopad, hex as hexCodec } from "@scure/base";
import { forgetMacState } from "./mac.ts";

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

const B64U_RE = /^[A-Za-z0-9_-]*$/;
const hasBuffer = typeof Buffer === "function";

/**
 * base64url without padding (RFC 4648 §5). Native Buffer where there is one
 * (it is on the hot path of every request), @scure/base otherwise; a test
 * checks both against each other.
 */
export function toB64u(b: Uint8Array): string {
  if (hasBuffer) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
  return base64urlnopad.encode(b);
}

/**
 * Strict base64url-without-padding decode; throws on bad input. Buffer's own
 * decoder is lenient, so the input is checked first and must round-trip
 * (canonical encoding only).
 */
export function fromB64u(s: string): Uint8Array {
  if (!hasBuffer) return base64urlnopad.decode(s);
  if (!B64U_RE.test(s) || s.length % 4 === 1) throw new Error("invalid base64url");
  const buf = Buffer.from(s, "base64url");
  if (buf.toString("base64url") !== s) throw new Error("non-canonical base64url");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The @scure/base codec, for tests that compare the two. */
export const b64uReference = base64urlnopad;

/**
 * Constant-time equality for equal-length inputs. Length is not secret
 * (MACs and keys have fixed sizes), so a length mismatch returns early.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Constant-time equality of two ASCII strings of public length (e.g. base64url MACs). */
export function equalStrings(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Zero-fill every given buffer (invariant 7: secrets are wiped when dropped),
 * and drop the keyed HMAC state of any that was a MAC key (mac.ts).
 */
export function wipe(...bufs: (Uint8Array | undefined | null)[]): void {
  for (const b of bufs) {
    if (!b) continue;
    b.fill(0);
    forgetMacState(b);
  }
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
