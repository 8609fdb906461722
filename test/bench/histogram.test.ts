/** The bench latency histogram against exact percentiles of sorted data. */
import { describe, expect, test } from "bun:test";
import { Histogram, _bucketOf, _bucketRange } from "../../src/bench/histogram.ts";

/** Nearest-rank percentile of a sorted array. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PS = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100];

describe("Histogram", () => {
  test("buckets are contiguous and each value falls in its own bucket", () => {
    let prev = -1;
    for (let v = 0; v < 1 << 20; v += 1 + (v >> 9)) {
      const i = _bucketOf(v);
      expect(i).toBeGreaterThanOrEqual(prev);
      const { low, width } = _bucketRange(i);
      expect(v).toBeGreaterThanOrEqual(low);
      expect(v).toBeLessThan(low + width);
      prev = i;
    }
    for (const v of [2 ** 30, 2 ** 30 - 1, 2 ** 39 + 12345, 2 ** 40 - 1]) {
      const { low, width } = _bucketRange(_bucketOf(v));
      expect(v >= low && v < low + width).toBe(true);
      expect(width / low).toBeLessThanOrEqual(1 / 128);
    }
  });

  test("small integers are exact", () => {
    const h = new Histogram();
    const data: number[] = [];
    const r = rng(1);
    for (let i = 0; i < 5000; i++) data.push(Math.floor(r() * 256));
    for (const v of data) h.record(v);
    data.sort((a, b) => a - b);
    for (const p of PS) expect(h.percentile(p)).toBe(exact(data, p));
  });

  for (const [name, gen] of [
    ["uniform ns, 10 µs–5 ms", (r: () => number) => 10_000 + r() * 5_000_000],
    ["log-normal-ish latencies", (r: () => number) => Math.exp(11 + 1.5 * (r() + r() + r() - 1.5))],
    ["bimodal with a long tail", (r: () => number) => (r() < 0.98 ? 200_000 + r() * 50_000 : 5_000_000 + r() * 200_000_000)],
  ] as const) {
    test(`percentiles within 0.4 % of the sorted array: ${name}`, () => {
      for (const seed of [7, 42, 1234]) {
        const r = rng(seed);
        const h = new Histogram();
        const data: number[] = [];
        const n = 1 + Math.floor(r() * 50_000);
        for (let i = 0; i < n; i++) {
          const v = Math.round(gen(r));
          data.push(v);
          h.record(v);
        }
        data.sort((a, b) => a - b);
        expect(h.count).toBe(n);
        expect(h.min).toBe(data[0]);
        expect(h.max).toBe(data[n - 1]);
        expect(h.mean).toBeCloseTo(data.reduce((a, b) => a + b, 0) / n, 3);
        for (const p of PS) {
          const want = exact(data, p);
          const got = h.percentile(p);
          expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.max(0.5, want / 256));
        }
      }
    });
  }

  test("merge equals recording everything in one histogram", () => {
    const r = rng(99);
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 0; i < 20_000; i++) {
      const v = Math.round(r() * 3_000_000);
      (i % 3 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.min).toBe(all.min);
    expect(a.max).toBe(all.max);
    for (const p of PS) expect(a.percentile(p)).toBe(all.percentile(p));
  });

  test("empty, clamped and invalid input", () => {
    const h = new Histogram();
    expect(h.percentile(99)).toBe(0);
    expect(h.count).toBe(0);
    h.record(-5);
    h.record(NaN);
    h.record(2 ** 50);
    expect(h.count).toBe(3);
    expect(h.min).toBe(0);
    expect(h.max).toBe(2 ** 40 - 1);
    expect(() => h.percentile(101)).toThrow(RangeError);
    h.reset();
    expect(h.count).toBe(0);
  });
});
