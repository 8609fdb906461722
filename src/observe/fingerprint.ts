/**
 * A multi-pattern matcher for the masker: Karp–Rabin fingerprints (Karp and
 * Rabin, "Efficient randomized pattern-matching algorithms", 1987), indexed
 * by each pattern's first {@link ANCHOR} characters and grouped by length.
 *
 * Why not an Aho–Corasick automaton: the masker holds every form of every
 * live secret, about 2.6 KB of pattern text per worker credential, so
 * 10 000 workers and 10 000 join tokens are ~44 M pattern characters. An
 * automaton needs a state per character (the best npm implementation took
 * 19 s and 1.5 GB to compile 51 M), and none of them can add or remove a
 * pattern without recompiling. Here:
 *
 * - adding or removing a pattern of length m costs O(m) (one pass to
 *   fingerprint it) plus O(1) map updates; nothing is rebuilt;
 * - memory is O(1) per pattern: the index keeps fingerprints, never the
 *   secret text, so it holds no copy of any secret;
 * - a scan of n UTF-16 code units costs O(n) hashing and one map lookup per
 *   position, plus one O(1) fingerprint comparison per distinct pattern
 *   length among the patterns whose anchor occurs there (credentials of one
 *   kind share a prefix but also share a length, so this stays 1–3);
 * - equal strings always have equal fingerprints, so a registered form is
 *   never missed. Two 26-bit prime moduli with secret random bases make a
 *   false match (which only masks harmless text) have probability at most
 *   (m/2^26)^2 per comparison, about 10^-11 for a 256-character form.
 * @module
 */
import { randomBytes } from "../crypto/index.ts";

/** Length of the anchor every pattern is indexed by; patterns are at least this long. */
export const ANCHOR = 6;

// Primes below 2^26: the product of two residues stays below 2^52, exact in a double.
const P1 = 67108859;
const P2 = 67108837;
const SHIFT = 2 ** 26;

interface Group {
  len: number;
  pow1: number;
  pow2: number;
  /** Full fingerprint → how many registrations hold a pattern with it. */
  refs: Map<number, number>;
}

function powMod(base: number, exp: number, p: number): number {
  let r = 1;
  let b = base % p;
  for (let e = exp; e > 0; e = Math.floor(e / 2)) {
    if (e & 1) r = (r * b) % p;
    b = (b * b) % p;
  }
  return r;
}

/** A pattern's place in the index: [anchor fingerprint, length, full fingerprint]. */
export type PatternKey = [anchor: number, len: number, full: number];

export class FingerprintIndex {
  private readonly b1: number;
  private readonly b2: number;
  private readonly a1: number;
  private readonly a2: number;
  private readonly anchors = new Map<number, Group[]>();
  private h1 = new Uint32Array(0);
  private h2 = new Uint32Array(0);
  private distinct = 0;

  constructor() {
    const rb = randomBytes(8);
    const r = new DataView(rb.buffer, rb.byteOffset, 8);
    this.b1 = 65_537 + (r.getUint32(0) % (P1 - 65_539));
    this.b2 = 65_537 + (r.getUint32(4) % (P2 - 65_539));
    this.a1 = powMod(this.b1, ANCHOR, P1);
    this.a2 = powMod(this.b2, ANCHOR, P2);
  }

  /** Distinct patterns held. */
  get size(): number {
    return this.distinct;
  }

  /** Register one pattern (≥ ANCHOR code units); O(length). Returns its key for {@link remove}. */
  add(pattern: string): PatternKey {
    let x1 = 0;
    let x2 = 0;
    let anchor = 0;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      x1 = (x1 * this.b1 + c) % P1;
      x2 = (x2 * this.b2 + c) % P2;
      if (i === ANCHOR - 1) anchor = x1 * SHIFT + x2;
    }
    const key: PatternKey = [anchor, pattern.length, x1 * SHIFT + x2];
    const g = this.group(key[0], key[1], true)!;
    const n = g.refs.get(key[2]) ?? 0;
    if (n === 0) this.distinct++;
    g.refs.set(key[2], n + 1);
    return key;
  }

  /** Drop one registration of a pattern added before; O(distinct lengths under its anchor). */
  remove([anchor, len, full]: PatternKey): void {
    const g = this.group(anchor, len, false);
    const n = g?.refs.get(full);
    if (!g || n === undefined) return;
    if (n > 1) {
      g.refs.set(full, n - 1);
      return;
    }
    g.refs.delete(full);
    this.distinct--;
    if (g.refs.size > 0) return;
    const groups = this.anchors.get(anchor)!;
    groups.splice(groups.indexOf(g), 1);
    if (groups.length === 0) this.anchors.delete(anchor);
  }

  private group(anchor: number, len: number, create: boolean): Group | undefined {
    let groups = this.anchors.get(anchor);
    const found = groups?.find((g) => g.len === len);
    if (found || !create) return found;
    if (!groups) this.anchors.set(anchor, (groups = []));
    const g: Group = { len, pow1: powMod(this.b1, len, P1), pow2: powMod(this.b2, len, P2), refs: new Map() };
    // Longest first: the scan keeps the longest pattern starting at a position.
    const at = groups.findIndex((x) => x.len < len);
    groups.splice(at < 0 ? groups.length : at, 0, g);
    return g;
  }

  /**
   * Find, at each position of `codes[0..n)`, the longest registered pattern
   * that starts there, and report it as `hit(start, end)` (end exclusive).
   * O(n) plus the comparisons described in the module comment.
   */
  scan(codes: Uint16Array, n: number, hit: (start: number, end: number) => void): void {
    if (this.anchors.size === 0 || n < ANCHOR) return;
    if (this.h1.length < n + 1) {
      this.h1 = new Uint32Array(Math.max(n + 1, this.h1.length * 2));
      this.h2 = new Uint32Array(this.h1.length);
    }
    const { h1, h2, b1, b2, a1, a2 } = this;
    for (let i = 0; i < n; i++) {
      h1[i + 1] = (h1[i] * b1 + codes[i]) % P1;
      h2[i + 1] = (h2[i] * b2 + codes[i]) % P2;
    }
    for (let i = 0; i + ANCHOR <= n; i++) {
      const x1 = (h1[i + ANCHOR] + P1 - ((h1[i] * a1) % P1)) % P1;
      const x2 = (h2[i + ANCHOR] + P2 - ((h2[i] * a2) % P2)) % P2;
      const groups = this.anchors.get(x1 * SHIFT + x2);
      if (groups === undefined) continue;
      for (const g of groups) {
        const end = i + g.len;
        if (end > n) continue;
        const y1 = (h1[end] + P1 - ((h1[i] * g.pow1) % P1)) % P1;
        const y2 = (h2[end] + P2 - ((h2[i] * g.pow2) % P2)) % P2;
        if (g.refs.has(y1 * SHIFT + y2)) {
          hit(i, end);
          break;
        }
      }
    }
  }
}
