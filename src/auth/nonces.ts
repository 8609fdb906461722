/**
 * Bounded replay cache for request nonces (PROTOCOL.md §3).
 *
 * Invariant: a nonce is remembered at least until its timestamp leaves the
 * acceptance window, so a replay inside the window is always refused. When
 * the cache is full of entries, `remember` reports "full" and the caller
 * answers `busy` — it never accepts a request it could not record.
 *
 * Shares: each owner (a key id) may hold at most `perKey` entries. A key
 * past its share gets "full" for itself only, so one key's flood cannot
 * fill the cache and turn every other key away; the whole-cache bound still
 * applies to many keys together. `refusals` counts both kinds.
 *
 * Layout: an entry is a 64-bit fingerprint and its expiry in one
 * open-addressing table of typed arrays (linear probing). The fingerprint is
 * the first 8 bytes of HMAC-SHA256(secret, key id ‖ "\n" ‖ nonce), with a
 * secret made for each cache: keyed, so that a worker choosing its nonces
 * cannot aim them at one run of slots (hash flooding). The same key and
 * nonce always give the same fingerprint, so a replay is always refused;
 * two different ones share one with probability about 2⁻⁶³ per pair, which
 * at worst refuses one fresh request as a replay. Entries are deleted with
 * backward shifting (no tombstones), and the table only ever grows (doubling
 * at half load). About 60 bytes per entry (the table's slots at a quarter
 * to half load, and the generation lists below) and nothing for the
 * garbage collector to trace, where a `Map` of strings took about 160
 * (docs/PERFORMANCE.md).
 *
 * The counts behind the bounds are kept by the second in which entries
 * expire (their *generation*), with the list of that second's
 * fingerprints: when the second has passed, its counts are given back and
 * its entries deleted (each once, by lookup; the table is never scanned).
 * An entry counts towards the bounds at most 1 s past its expiry.
 * @module
 */
import { macState, randomBytes } from "../crypto/index.ts";

/** Outcome of recording a request nonce (PROTOCOL.md §3 step 7). */
export type RememberResult = "ok" | "replay" | "full";

/**
 * The request replay cache (PROTOCOL.md §3), as the verifier uses it: a
 * nonce is remembered at least until its timestamp leaves the acceptance
 * window, so a replay inside the window is refused — by every daemon, when
 * the cache is shared (src/cluster, docs/CLUSTER.md §5). `NonceCache` is the
 * in-memory one and answers synchronously.
 */
export interface ReplayCache {
  /** Record `keyId`+`nonce` (timestamp `ts`, ms); `replay` if seen, `full` if there is no room. A shared cache that cannot answer throws (or rejects with) `unavailable`. */
  remember(keyId: string, nonce: string, ts: number, now: number): RememberResult | Promise<RememberResult>;
  /** Entries held in this process (0 for a shared cache, whose entries live elsewhere). */
  readonly size: number;
  /** Refusals: `replay_cache` (all full), `replay_cache_per_key` (a key's share). */
  readonly refusals: Map<string, number>;
  /** Drop expired entries held in this process. */
  purgeAll(now: number): void;
  /** Forget what this process holds (shutdown). */
  clear(): void;
}

/** Live entries of one owner. Generations count per owner, so the owner string is held once. */
interface Owner {
  id: string;
  n: number;
}

/** How long one generation spans, in ms: an entry counts towards the bounds at most this long past its expiry. */
export const GENERATION_MS = 1000;

/** The entries expiring in one second: their fingerprints (to delete them when the second has passed) and counts. */
interface Generation {
  readonly his: number[];
  readonly los: number[];
  readonly tally: Map<Owner, number>;
}

/**
 * Fingerprints (two 32-bit halves; the second is odd, so an empty slot is 0)
 * (exported for its tests; `NonceCache` is the interface)
 * with their expiry in ms, linear probing, grown at half load. Entries are
 * deleted with backward shifting (no tombstones), so the table holds only
 * what the generations count and never needs a rebuild but to grow.
 */
export class FingerprintTable {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private exp = new Float64Array(1024);
  private count = 0;

  private slot(hi: number, lo: number): number {
    const mask = this.lo.length - 1;
    let i = hi & mask;
    while (this.lo[i] !== 0 && !(this.lo[i] === lo && this.hi[i] === hi)) i = (i + 1) & mask;
    return i;
  }

  /** The expiry of this fingerprint (ms), or -Infinity when it is not held. */
  expiry(hi: number, lo: number): number {
    const i = this.slot(hi, lo);
    return this.lo[i] === 0 ? -Infinity : this.exp[i]!;
  }

  /** Hold the fingerprint until `e` (ms): a new entry, or a renewal of one that expired. */
  set(hi: number, lo: number, e: number): void {
    const i = this.slot(hi, lo);
    if (this.lo[i] === 0) {
      this.hi[i] = hi;
      this.lo[i] = lo;
      if (++this.count * 2 > this.lo.length) {
        this.exp[i] = e;
        return this.grow();
      }
    }
    this.exp[i] = e;
  }

  /** Delete the fingerprint if it expires before `end` (ms): a renewed one belongs to a later generation and stays. */
  deleteIfBefore(hi: number, lo: number, end: number): void {
    let i = this.slot(hi, lo);
    if (this.lo[i] === 0 || this.exp[i]! >= end) return;
    this.count--;
    // Backward shift (linear probing): move later entries of the run into the hole when their home allows.
    const mask = this.lo.length - 1;
    for (let j = (i + 1) & mask; this.lo[j] !== 0; j = (j + 1) & mask) {
      const home = this.hi[j]! & mask;
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        this.hi[i] = this.hi[j]!;
        this.lo[i] = this.lo[j]!;
        this.exp[i] = this.exp[j]!;
        i = j;
      }
    }
    this.lo[i] = 0;
  }

  private grow(): void {
    const { hi, lo, exp } = this;
    this.hi = new Uint32Array(lo.length * 2);
    this.lo = new Uint32Array(lo.length * 2);
    this.exp = new Float64Array(lo.length * 2);
    for (let i = 0; i < lo.length; i++) {
      if (lo[i] === 0) continue;
      const j = this.slot(hi[i]!, lo[i]!);
      this.hi[j] = hi[i]!;
      this.lo[j] = lo[i]!;
      this.exp[j] = exp[i]!;
    }
  }
}

export class NonceCache implements ReplayCache {
  private table = new FingerprintTable();
  private readonly gens = new Map<number, Generation>();
  private readonly owners = new Map<string, Owner>();
  /** The oldest generation held (Infinity when none). */
  private oldest = Infinity;
  private entries = 0;
  /** The fingerprint key: only for this cache, never leaves it. */
  private readonly secret = randomBytes(32);
  /** Refusals: `replay_cache` (the whole cache was full), `replay_cache_per_key` (a key's share was). */
  readonly refusals = new Map<string, number>();

  /**
   * @param max      most entries in all
   * @param windowMs the acceptance window (an entry lives until its ts + windowMs)
   * @param perKey   most entries of one owner (default: `max`, no share)
   */
  constructor(
    readonly max: number,
    private readonly windowMs: number,
    readonly perKey: number = max,
  ) {}

  /** Entries counted towards the bounds (each at most 1 s past its expiry). */
  get size(): number {
    return this.entries;
  }

  /** Record `keyId`+`nonce` (timestamp `ts`, ms; `now`, ms); refuse if already seen, or if there is no room for it. */
  remember(keyId: string, nonce: string, ts: number, now: number): RememberResult {
    if ((this.oldest + 1) * GENERATION_MS <= now) this.purgeAll(now);
    const f = macState(this.secret).bytes(`${keyId}\n${nonce}`);
    const hi = (f[0]! | (f[1]! << 8) | (f[2]! << 16) | (f[3]! << 24)) >>> 0;
    const lo = (f[4]! | (f[5]! << 8) | (f[6]! << 16) | (f[7]! << 24) | 1) >>> 0;
    const e0 = this.table.expiry(hi, lo);
    if (e0 >= now) return "replay";
    let o = this.owners.get(keyId);
    if ((o?.n ?? 0) >= this.perKey) return this.refuse("replay_cache_per_key");
    if (this.entries >= this.max) return this.refuse("replay_cache");
    if (o === undefined) this.owners.set(keyId, (o = { id: keyId, n: 0 }));
    const e = ts + this.windowMs;
    this.table.set(hi, lo, e);
    this.count(o, Math.floor(e / GENERATION_MS), hi, lo);
    return "ok";
  }

  /** Count one entry of owner `o` (fingerprint hi, lo) in generation `g`. */
  private count(o: Owner, g: number, hi: number, lo: number): void {
    let gen = this.gens.get(g);
    if (gen === undefined) {
      this.gens.set(g, (gen = { his: [], los: [], tally: new Map() }));
      if (g < this.oldest) this.oldest = g;
    }
    gen.his.push(hi);
    gen.los.push(lo);
    gen.tally.set(o, (gen.tally.get(o) ?? 0) + 1);
    o.n++;
    this.entries++;
  }

  /** Entries of one owner (0 when none). */
  heldBy(keyId: string): number {
    return this.owners.get(keyId)?.n ?? 0;
  }

  /** Give back the counts of every generation whose second has passed (O(generations held)). */
  purgeAll(now: number): void {
    let oldest = Infinity;
    for (const [g, gen] of this.gens) {
      if ((g + 1) * GENERATION_MS > now) {
        if (g < oldest) oldest = g;
        continue;
      }
      this.gens.delete(g);
      this.entries -= gen.his.length;
      const end = (g + 1) * GENERATION_MS;
      for (let i = 0; i < gen.his.length; i++) this.table.deleteIfBefore(gen.his[i]!, gen.los[i]!, end);
      for (const [o, n] of gen.tally) if ((o.n -= n) === 0) this.owners.delete(o.id);
    }
    this.oldest = oldest;
  }

  private refuse(limit: string): "full" {
    this.refusals.set(limit, (this.refusals.get(limit) ?? 0) + 1);
    return "full";
  }

  clear(): void {
    this.table = new FingerprintTable();
    this.gens.clear();
    this.owners.clear();
    this.entries = 0;
    this.oldest = Infinity;
  }
}
