/**
 * Token buckets: `rate` tokens per second, at most `burst` saved up. Used
 * per key id for requests and per source plus globally for joins. One
 * request costs one token; the buckets are the broker's `CostBudget`
 * (bounded table: past the bound the oldest bucket is dropped, which can
 * only make a limit more lenient for it).
 * @module
 */
import { CostBudget } from "../broker/budget.ts";

export class RateLimiter {
  private readonly budget: CostBudget;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: () => number = () => performance.now(),
    maxBuckets = 100_000,
  ) {
    this.budget = new CostBudget(rate, burst, now, maxBuckets);
  }

  /** Take one token for `key`: 0 when allowed, else the seconds to wait (rate 0 = unlimited). */
  take(key: string): number {
    const wait = this.budget.wait(key);
    if (wait === 0) this.budget.charge(key, 1);
    return wait;
  }

  /** Forget the buckets that have refilled (see CostBudget.prune). */
  prune(): number {
    return this.budget.prune();
  }

  get size(): number {
    return this.budget.size;
  }
}
