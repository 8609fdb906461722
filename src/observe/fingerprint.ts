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
 *   never missed. A fingerprint is two polynomial hashes modulo 2^32 with
 *   secret random odd multipliers (32-bit integer multiplies: ~20× faster
 *   than a prime modulus in doubles, which took 1.3 s for the 5 M characters
 *   of forms of one 200 KB value), of which 53 bits are kept. A false match
 *   only masks harmless text; for text not built against the secret
 *   multipliers it is about as likely as 2^-53 per comparison. Text built
 *   to collide (Thue–Morse sequences collide modulo 2^32 for every
 *   multiplier) can force one; that too only masks text, and the text must
 *   also start with a registered anchor.
 * @module
 */
import { randomBytes } from "../crypto/index.ts";

/** Length of the anchor every pattern is indexed by; patterns are at least this long. */
export const ANCHOR = 6;

/** 2^21: the second hash's top 21 bits go below the first's 32 (a 53-bit key, exact in a double). */
const SHIFT = 2 ** 21;

const key = (x1: number, x2: number) => (x1 >>> 0) * SHIFT + (x2 >>> 11);

/**
 * The index's maps are split 256 ways by fingerprint: a JavaScript Map
 * rehashes all its entries when it doubles, which at the 2^17–2^19 entries
 * of 20 000 live objects blocked the event loop for 0.1–0.6 s (measured on
 * this machine under load); a shard holds 1/256 of them.
 */
const SHARDS = 256;
const shards = <V>() => Array.from({ length: SHARDS }, () => new Map<number, V>());
/** Low bits of the key (its low 32 bits are exact: keys are integers below 2^53). */
const shard = (k: number) => (k >>> 0) & (SHARDS - 1);

/** Lengths below this pack with their count into one number. */
const LEN_SPAN = 2 ** 24;

/** An anchor's [length, count, …] list, from its packed form (a new array). */
function unpack(v: number | number[] | undefined): number[] {
  if (v === undefined) return [];
  return typeof v === "number" ? [v % LEN_SPAN, Math.floor(v / LEN_SPAN)] : v;
}

function pack(lens: number[]): number | number[] {
  return lens.length === 2 && lens[0] < LEN_SPAN ? lens[1] * LEN_SPAN + lens[0] : lens;
}

/** base^exp modulo 2^32 (as an int32). */
function pow32(base: number, exp: number): number {
  let r = 1;
  let b = base | 0;
  for (let e = exp; e > 0; e = Math.floor(e / 2)) {
    if (e & 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}

/**
 * Where patterns are in the index, three numbers each (anchor fingerprint,
 * length, full fingerprint), as {@link FingerprintIndex.add} appends them.
 */
export type PatternKeys = number[];

export class FingerprintIndex {
  private readonly b1: number;
  private readonly b2: number;
  private readonly a1: number;
  private readonly a2: number;
  /**
   * Anchor fingerprint → the lengths of the patterns that start with it and
   * how many of each: one number (count·2^24 + length) when there is one
   * length, the common case, else [length, count, length, count, …],
   * longest first.
   */
  private readonly anchors = shards<number | number[]>();
  /** Full fingerprint → how many registrations hold a pattern with it. */
  private readonly full = shards<number>();
  private distinct = 0;
  private anchorCount = 0;
  /** b^length for lengths seen (bounded cache). */
  private readonly pows = new Map<number, [number, number]>();
  private h1 = new Int32Array(0);
  private h2 = new Int32Array(0);

  constructor() {
    const rb = randomBytes(8);
    const r = new DataView(rb.buffer, rb.byteOffset, 8);
    // Odd, and never a small number (a multiplier must spread every character over all 32 bits).
    this.b1 = (r.getUint32(0) | 0x0100_0001) | 0;
    this.b2 = (r.getUint32(4) | 0x0100_0001) | 0;
    this.a1 = pow32(this.b1, ANCHOR);
    this.a2 = pow32(this.b2, ANCHOR);
  }

  /** Distinct patterns held. */
  get size(): number {
    return this.distinct;
  }

  /** Register one pattern (≥ ANCHOR code units) and append its key to `out`. O(length). */
  add(pattern: string, out: PatternKeys): void {
    let x1 = 0;
    let x2 = 0;
    let anchor = 0;
    const { b1, b2 } = this;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern.charCodeAt(i);
      x1 = (Math.imul(x1, b1) + c) | 0;
      x2 = (Math.imul(x2, b2) + c) | 0;
      if (i === ANCHOR - 1) anchor = key(x1, x2);
    }
    const full = key(x1, x2);
    const len = pattern.length;
    const f = this.full[shard(full)];
    const n = f.get(full) ?? 0;
    if (n === 0) this.distinct++;
    f.set(full, n + 1);
    const a = this.anchors[shard(anchor)];
    const lens = unpack(a.get(anchor));
    if (lens.length === 0) this.anchorCount++;
    // Longest first: the scan keeps the longest pattern starting at a position.
    let i = 0;
    while (i < lens.length && lens[i] > len) i += 2;
    if (lens[i] === len) lens[i + 1]++;
    else lens.splice(i, 0, len, 1);
    a.set(anchor, pack(lens));
    out.push(anchor, len, full);
  }

  /** Drop the registrations `keys[at..at+3)` stands for. O(distinct lengths under its anchor). */
  remove(keys: PatternKeys, at: number): void {
    const anchor = keys[at];
    const len = keys[at + 1];
    const full = keys[at + 2];
    const f = this.full[shard(full)];
    const n = f.get(full);
    if (n === undefined) return;
    if (n > 1) f.set(full, n - 1);
    else {
      f.delete(full);
      this.distinct--;
    }
    const a = this.anchors[shard(anchor)];
    const lens = unpack(a.get(anchor));
    let i = 0;
    while (i < lens.length && lens[i] !== len) i += 2;
    if (i >= lens.length) return;
    if (lens[i + 1] > 1) lens[i + 1]--;
    else lens.splice(i, 2);
    if (lens.length > 0) a.set(anchor, pack(lens));
    else {
      a.delete(anchor);
      this.anchorCount--;
    }
  }

  private pow(len: number): [number, number] {
    let p = this.pows.get(len);
    if (!p) {
      if (this.pows.size >= 4096) this.pows.clear();
      this.pows.set(len, (p = [pow32(this.b1, len), pow32(this.b2, len)]));
    }
    return p;
  }

  /**
   * Find, at each position of `codes[0..n)`, the longest registered pattern
   * that starts there, and report it as `hit(start, end)` (end exclusive).
   * O(n) plus the comparisons described in the module comment.
   */
  scan(codes: Uint16Array, n: number, hit: (start: number, end: number) => void): void {
    if (this.anchorCount === 0 || n < ANCHOR) return;
    if (this.h1.length < n + 1) {
      this.h1 = new Int32Array(Math.max(n + 1, this.h1.length * 2));
      this.h2 = new Int32Array(this.h1.length);
    }
    const { h1, h2, b1, b2, a1, a2, anchors, full } = this;
    for (let i = 0; i < n; i++) {
      h1[i + 1] = Math.imul(h1[i], b1) + codes[i];
      h2[i + 1] = Math.imul(h2[i], b2) + codes[i];
    }
    // hash(s[i..j)) = H[j] - H[i]·b^(j-i)  (mod 2^32)
    for (let i = 0; i + ANCHOR <= n; i++) {
      const ak = key(h1[i + ANCHOR] - Math.imul(h1[i], a1), h2[i + ANCHOR] - Math.imul(h2[i], a2));
      const v = anchors[shard(ak)].get(ak);
      if (v === undefined) continue;
      const packed = typeof v === "number";
      for (let j = 0; j < (packed ? 1 : v.length); j += 2) {
        const len = packed ? v % LEN_SPAN : v[j];
        const end = i + len;
        if (end > n) continue;
        const [p1, p2] = this.pow(len);
        const fk = key(h1[end] - Math.imul(h1[i], p1), h2[end] - Math.imul(h2[i], p2));
        if (full[shard(fk)].has(fk)) {
          hit(i, end);
          break;
        }
      }
    }
  }
}
