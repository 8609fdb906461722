/**
 * A log-linear latency histogram (HdrHistogram-like) for `hush bench`.
 *
 * Values are non-negative integers (the bench records nanoseconds). Values
 * below 2·S are counted exactly; above, each power of two is split into S
 * equal sub-buckets, so a reported value is within 1/(2·S) of the truth
 * (S = 128: ≤ 0.4 % relative error). Recording is O(1) and allocation-free;
 * the whole table is a few thousand counters whatever the run length.
 *
 *   index(v) = v                                  for v < 2S
 *   index(v) = shift·S + (v >> shift)             shift = ⌊log2 v⌋ − log2 S
 * @module
 */

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 sub-buckets per power of two
/** Values at or above 2^MAX_BITS are clamped (2^40 ns ≈ 18 minutes). */
const MAX_BITS = 40;
const MAX_VALUE = 2 ** MAX_BITS - 1;

/** Bucket index of `v` (an integer in [0, MAX_VALUE]). */
export function _bucketOf(v: number): number {
  if (v < 2 * SUB) return v;
  const shift = Math.floor(Math.log2(v)) - SUB_BITS;
  // Math.log2 can be off by one ulp near powers of two: fix the shift up.
  let s = shift;
  while (Math.floor(v / 2 ** s) >= 2 * SUB) s++;
  while (s > 0 && Math.floor(v / 2 ** s) < SUB) s--;
  return s * SUB + Math.floor(v / 2 ** s);
}

/** Lowest value and width of bucket `i`. */
export function _bucketRange(i: number): { low: number; width: number } {
  if (i < 2 * SUB) return { low: i, width: 1 };
  const s = Math.floor(i / SUB) - 1;
  return { low: ((i % SUB) + SUB) * 2 ** s, width: 2 ** s };
}

const SIZE = _bucketOf(MAX_VALUE) + 1;

export class Histogram {
  private readonly counts = new Float64Array(SIZE);
  private _n = 0;
  private _sum = 0;
  private _min = Infinity;
  private _max = -Infinity;

  /** Record one value (rounded to an integer, clamped to [0, 2^40)). */
  record(value: number): void {
    let v = Math.round(value);
    if (!(v >= 0)) v = 0;
    if (v > MAX_VALUE) v = MAX_VALUE;
    this.counts[_bucketOf(v)]++;
    this._n++;
    this._sum += v;
    if (v < this._min) this._min = v;
    if (v > this._max) this._max = v;
  }

  get count(): number {
    return this._n;
  }

  get min(): number {
    return this._n ? this._min : 0;
  }

  get max(): number {
    return this._n ? this._max : 0;
  }

  get mean(): number {
    return this._n ? this._sum / this._n : 0;
  }

  /**
   * The value at percentile `p` (0–100), nearest-rank: the smallest recorded
   * value such that at least p % of all values are ≤ it. Reported as the
   * middle of its bucket, clamped to the exact min and max.
   */
  percentile(p: number): number {
    if (this._n === 0) return 0;
    if (!(p >= 0 && p <= 100)) throw new RangeError("percentile must be between 0 and 100");
    const rank = Math.max(1, Math.ceil((p / 100) * this._n));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const { low, width } = _bucketRange(i);
        const mid = width === 1 ? low : low + (width - 1) / 2;
        return Math.min(this._max, Math.max(this._min, mid));
      }
    }
    return this._max;
  }

  /** Add every value of `other` into this histogram. */
  merge(other: Histogram): this {
    for (let i = 0; i < SIZE; i++) this.counts[i] += other.counts[i];
    this._n += other._n;
    this._sum += other._sum;
    if (other._n) {
      this._min = Math.min(this._min, other._min);
      this._max = Math.max(this._max, other._max);
    }
    return this;
  }

  reset(): void {
    this.counts.fill(0);
    this._n = 0;
    this._sum = 0;
    this._min = Infinity;
    this._max = -Infinity;
  }
}
