/**
 * Secret masking. Every registered secret is replaced, in its raw form and
 * in every common encoding of it, before a line is written anywhere
 * (DESIGN.md invariant 2). Encodings follow the GitHub Actions runner's
 * masker: base64 at all three byte offsets, base64url, hex, JSON-escaped,
 * URL-encoded, and each line of a multi-line value.
 * @module
 */
import { toB64u, toHex, utf8 } from "../crypto/index.ts";

const MASK = "***";
const MIN_LEN = 6;

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** All the forms in which `secret` could show up in text. */
export function encodedForms(secret: string | Uint8Array): string[] {
  const bytes = typeof secret === "string" ? utf8(secret) : secret;
  const out = new Set<string>();
  const add = (s: string) => {
    if (s.length >= MIN_LEN) out.add(s);
  };
  if (typeof secret === "string") {
    add(secret);
    add(JSON.stringify(secret).slice(1, -1));
    add(encodeURIComponent(secret));
    for (const line of secret.split(/\r?\n/)) add(line.trim());
  }
  add(toHex(bytes));
  add(toHex(bytes).toUpperCase());
  for (let off = 0; off < 3 && off < bytes.length; off++) {
    // The stable middle of the base64 of the value at each byte offset:
    // drop the characters that depend on neighbouring bytes.
    const s = b64(bytes.subarray(off));
    const full = s.replace(/=+$/, "");
    const keep = full.slice(0, Math.floor(((bytes.length - off) * 4) / 3));
    add(keep);
    add(keep.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  add(toB64u(bytes));
  return [...out];
}

export class Masker {
  private forms = new Set<string>();
  private re: RegExp | null = null;

  /** Register a secret (string or bytes) to be masked from now on. */
  add(secret: string | Uint8Array): void {
    for (const f of encodedForms(secret)) this.forms.add(f);
    this.re = null;
  }

  get size(): number {
    return this.forms.size;
  }

  mask(text: string): string {
    if (this.forms.size === 0) return text;
    if (!this.re) {
      const parts = [...this.forms].sort((a, b) => b.length - a.length).map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      this.re = new RegExp(parts.join("|"), "g");
    }
    return text.replace(this.re, MASK);
  }
}
