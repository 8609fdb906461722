/**
 * A per-key budget for work whose cost grows with its result, such as a
 * listing page (each key listed costs daemon CPU and bytes): a token bucket
 * of `rate` units per second, at most `burst` saved up, charged after the
 * work by what it actually cost (so a key may run into debt once, and then
 * waits). Clock injected (`now`, ms); pure.
 *
 * The table holds one bucket per key id, at most `maxKeys`; past that the
 * oldest bucket is dropped, which can only make the budget more lenient for
 * its key. `prune` drops the buckets that have refilled (a full bucket says
 * nothing a missing one does not), so a key, or a join source's address, is
 * remembered at most `burst / rate` seconds after its last use.
 * @module
 */

interface Bucket {
  tokens: number;
  at: number;
}

export class CostBudget {
  private readonly buckets = new Map<string, Bucket>();

  /** `rate` 0 = unlimited. */
  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {}

  /** 0 when `key` may start more work now, else the whole seconds to wait. */
  wait(key: string): number {
    if (this.rate <= 0) return 0;
    const b = this.refill(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  /** Keys with a bucket. */
  get size(): number {
    return this.buckets.size;
  }

  /** Drop every bucket that is full again by now. O(buckets). */
  prune(): number {
    if (this.rate <= 0) return 0;
    const t = this.now();
    let n = 0;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) {
        this.buckets.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Charge `cost` units to `key` (after the work; the balance may go below zero). */
  charge(key: string, cost: number): void {
    if (this.rate <= 0) return;
    this.refill(key).tokens -= cost;
  }

  private refill(key: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
      b.at = t;
    }
    return b;
  }
}
