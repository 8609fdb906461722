/**
 * Stop signals of a daemon process (DESIGN.md invariant 7). `trapStopSignals`
 * installs handlers for SIGINT, SIGTERM and SIGHUP that stay installed until
 * the process exits, so no stop signal ever takes the default action (exit
 * 128+n, no wipe, sockets left behind): not a signal during start-up, not a
 * second one during the drain (`kill -TERM $P $P`, or `timeout`, which
 * signals the process and then its whole group). Only SIGKILL skips the
 * orderly stop. What a signal means is the caller's: `hush serve` stops at
 * the first and hurries the drain at the next; `hush run` forwards each to
 * its child while the child runs.
 * @module
 */

export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export interface SignalTrap {
  /** The first stop signal received, if any. */
  readonly received: StopSignal | undefined;
  /** Resolves with the first stop signal. */
  readonly first: Promise<StopSignal>;
  /** Aborted at the first stop signal: hand it to start-up work (an `exec:` source) so it ends early. */
  readonly abort: AbortSignal;
  /** Call `fn(sig, n)` for every stop signal from now on; `n` counts all received, from 1. */
  onSignal(fn: (sig: StopSignal, n: number) => void): void;
}

/** Install the handlers (call this first); they are never removed. */
export function trapStopSignals(): SignalTrap {
  let received: StopSignal | undefined;
  let n = 0;
  let resolveFirst!: (s: StopSignal) => void;
  const first = new Promise<StopSignal>((r) => (resolveFirst = r));
  const ac = new AbortController();
  const listeners: ((sig: StopSignal, n: number) => void)[] = [];
  for (const sig of STOP_SIGNALS) {
    process.on(sig, () => {
      n++;
      if (!received) {
        received = sig;
        resolveFirst(sig);
        ac.abort(new Error(`stopped by ${sig}`));
      }
      for (const fn of listeners) fn(sig, n);
    });
  }
  return {
    get received() {
      return received;
    },
    first,
    abort: ac.signal,
    onSignal: (fn) => void listeners.push(fn),
  };
}

/** The conventional exit status of a process ended by `sig`: 128 + its number. */
export function signalExitCode(sig: StopSignal): number {
  return 128 + { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[sig];
}
