/**
 * Token buckets: `rate` tokens per second, at most `burst` saved up. Used
 * per key id for requests and per source plus globally for joins.
 * The table of buckets is bounded; past the bound the oldest bucket (by
 * creation) is dropped, which can only make a limit more lenient for it.
 * @module
 */

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly maxBuckets = 100_000,
  ) {}

  /** Take one token for `key`: 0 when allowed, else the seconds to wait. */
  take(key: string): number {
    if (this.rate <= 0) return 0; // 0 = unlimited
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  get size(): number {
    return this.buckets.size;
  }
}
