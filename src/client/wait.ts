/**
 * Waiting in the SDK: abortable sleeps and calls, and the client-side wait
 * for a held lock, a claim being made (getOrSet) or a full pool.
 *
 * The daemon never holds a request open while something is held: it answers
 * `409 conflict` at once, with `expires_at`, the time the current hold ends
 * unless it is renewed or released sooner (PROTOCOL.md §8). A server-side
 * wait would tie up one of the daemon's 512 in-flight slots per waiter and
 * run into its 5 s request deadline, and a wait that outlives the client
 * would hold nothing useful; polling needs neither. So the SDK polls: it
 * tries again after `retryDelayMs` (default 100) with ±50 % jitter, so that
 * waiters that met the same conflict do not come back together; sooner, at
 * `expires_at` + 1 ms, when the hold ends before that (by this machine's
 * clock); and once more at the deadline. A conflict without `expires_at`
 * (a pool of another size) is not worth waiting for and is thrown at once.
 * @module
 */
import { HushError } from "../errors.ts";

/** How long to wait for a held lock, claim or pool slot. */
export interface WaitOptions {
  /** Give up after this many ms (0: one try); then the last `conflict` is thrown. */
  timeoutMs: number;
  /** Mean delay between tries, in ms (each delay is 50–150 % of it). Default 100. */
  retryDelayMs?: number | undefined;
}

/** Options every SDK call takes. */
export interface CallOptions {
  /** Abort the call (or the wait): it rejects with `signal.reason`. A request already sent may still take effect in the daemon. */
  signal?: AbortSignal | undefined;
}

const DEFAULT_RETRY_DELAY_MS = 100;

/** Resolve after `ms`, or reject with `signal.reason` when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `start()`'s promise, or a rejection with `signal.reason` as soon as the signal aborts (before or after the start). */
export function abortable<T>(start: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return start();
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    start().then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Check a `wait` option; `invalid_request` naming the field. */
export function checkWait(wait: WaitOptions): void {
  if (typeof wait !== "object" || wait === null) throw new HushError("invalid_request", "wait must be { timeoutMs, retryDelayMs? }");
  if (typeof wait.timeoutMs !== "number" || !(wait.timeoutMs >= 0) || !Number.isFinite(wait.timeoutMs)) {
    throw new HushError("invalid_request", "wait.timeoutMs must be a number of ms ≥ 0");
  }
  const d = wait.retryDelayMs;
  if (d !== undefined && (typeof d !== "number" || !(d > 0) || !Number.isFinite(d))) throw new HushError("invalid_request", "wait.retryDelayMs must be a number of ms > 0");
}

/** The delay before the next try after `e`: jittered, cut to when the hold ends and to the time left. */
function nextDelay(e: HushError, base: number, left: number): number {
  let d = base * (0.5 + Math.random());
  const until = e.expiresAt! - Date.now();
  if (until >= 0) d = Math.min(d, until + 1);
  return Math.min(d, left);
}

/**
 * `attempt()`, tried again while it fails with a `conflict` that carries
 * `expiresAt` (something is held), until `wait.timeoutMs` has passed. Without
 * `wait`, one try. After the deadline the last conflict is thrown (message
 * saying how long it waited, `expiresAt` kept). Other errors are thrown at
 * once; an abort rejects with `signal.reason`.
 */
export async function untilFree<T>(attempt: () => Promise<T>, wait: WaitOptions | undefined, signal?: AbortSignal): Promise<T> {
  if (wait === undefined) return attempt();
  checkWait(wait);
  const deadline = Date.now() + wait.timeoutMs;
  const base = wait.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof HushError && e.code === "conflict" && e.expiresAt !== undefined)) throw e;
      const left = deadline - Date.now();
      if (left <= 0) throw new HushError("conflict", `${e.message} (waited ${wait.timeoutMs} ms)`, e.detail);
      await sleep(nextDelay(e, base, left), signal);
    }
  }
}
