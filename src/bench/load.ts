/**
 * The closed-loop load generator behind `hush bench`: `connections` workers,
 * each sending one request at a time (no pipelining) and the next as soon
 * as the answer is in, until a request count or a deadline is reached.
 * Optionally paced to a total rate (open schedule shared by all workers,
 * for sustained runs below peak; after a stall at most one second of backlog
 * is made up, so the rate never runs far above the target). Every latency
 * goes into one histogram.
 *
 * Latency is measured from the moment a worker starts a request to the
 * moment its answer is verified: it includes the client's own signing and
 * verification, as users see it. With `rate` set, a late start is not
 * back-dated (no coordinated-omission correction).
 * @module
 */
import { Histogram } from "./histogram.ts";

/** One operation: resolves when done, throws on any error. `seq` counts operations across workers. */
export type Operation = (worker: number, seq: number) => Promise<unknown>;

export interface LoadOptions {
  connections: number;
  /** Stop after this many operations in total. */
  requests?: number;
  /** Stop after this long (ms). One of requests / durationMs is required. */
  durationMs?: number;
  /** Total operations per second across workers (paced); default: as fast as possible. */
  rate?: number;
  /** Called every `tickMs` with progress (e.g. to sample the daemon's memory). */
  onTick?: (p: Progress) => void;
  tickMs?: number;
  /** Called every `progressMs` (default 1000) with progress, e.g. for a progress line on a terminal. */
  onProgress?: (p: Progress) => void;
  progressMs?: number;
}

export interface Progress {
  elapsedMs: number;
  done: number;
  errors: number;
  /** Operations per second since the previous tick. */
  recentRate: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  opsPerSec: number;
  histogram: Histogram;
  /** Error messages and how often each happened (at most 10 kinds). */
  errorKinds: Record<string, number>;
}

export async function runLoad(op: Operation, opts: LoadOptions): Promise<LoadResult> {
  const n = opts.connections;
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError("connections must be a positive integer");
  if (opts.requests === undefined && opts.durationMs === undefined) throw new RangeError("give requests or durationMs");
  const hist = new Histogram();
  const errorKinds: Record<string, number> = {};
  let issued = 0;
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = opts.durationMs === undefined ? Infinity : t0 + opts.durationMs;
  const limit = opts.requests ?? Infinity;
  const interval = opts.rate ? 1000 / opts.rate : 0;
  let shift = 0;

  async function worker(w: number): Promise<void> {
    for (;;) {
      if (issued >= limit) return;
      const seq = issued++;
      if (interval) {
        const due = t0 + shift + seq * interval;
        const wait = due - performance.now();
        if (wait > 1) await Bun.sleep(wait);
        // More than a second behind (a stall): drop the backlog rather than burst above the rate.
        else if (wait < -1000) shift -= wait + 1000;
      }
      const start = performance.now();
      if (start >= deadline) return;
      try {
        await op(w, seq);
      } catch (e) {
        errors++;
        const msg = String((e as Error)?.message ?? e).slice(0, 160);
        if (msg in errorKinds || Object.keys(errorKinds).length < 10) errorKinds[msg] = (errorKinds[msg] ?? 0) + 1;
      }
      const end = performance.now();
      hist.record((end - start) * 1e6);
      done++;
    }
  }

  /** Call `cb` every `ms` with the progress so far and the rate since its previous call. */
  const every = (cb: ((p: Progress) => void) | undefined, ms: number) => {
    if (!cb) return undefined;
    let last = { t: t0, done: 0 };
    return setInterval(() => {
      const now = performance.now();
      const recentRate = ((done - last.done) * 1000) / (now - last.t);
      last = { t: now, done };
      cb({ elapsedMs: now - t0, done, errors, recentRate });
    }, ms);
  };
  const timers = [every(opts.onTick, opts.tickMs ?? 5000), every(opts.onProgress, opts.progressMs ?? 1000)];
  try {
    await Promise.all(Array.from({ length: n }, (_, w) => worker(w)));
  } finally {
    for (const t of timers) if (t) clearInterval(t);
  }
  const elapsedMs = performance.now() - t0;
  return { requests: done, errors, elapsedMs, opsPerSec: (done * 1000) / elapsedMs, histogram: hist, errorKinds };
}
