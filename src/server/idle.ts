/**
 * Idle shutdown (`hush serve --idle-timeout D`): a daemon started for a CI
 * job ends itself once nobody has used it for `D`.
 *
 * What counts as use (PROTOCOL.md §1, "Idle shutdown"): a request that was
 * authenticated (signed with a live key, or sent to admin.sock) to a route
 * that is not `passive`, and a join that succeeded. It counts when its
 * answer is sent, and while any request is in flight (a lock or lease
 * waiting for up to its `wait_ms`) the daemon is never idle. What does
 * not count: `health` and `ready` probes, stats, `/metrics`, an open
 * `audit tail -f` stream, open but silent WebSocket connections, refused
 * (unauthenticated or rate-limited) requests. So neither a monitor nor an
 * attacker without a key keeps an unused daemon alive, and a tail receives
 * the run's stop line and closing seal when the daemon goes.
 * @module
 */
import type { State } from "./state.ts";

export interface IdleWatch {
  /** Resolves once the daemon has been idle for the timeout (never when stopped first). */
  readonly idle: Promise<void>;
  /** Stop watching (at the daemon's stop). */
  stop(): void;
}

/**
 * Watch `st` for `timeoutMs` ms without use and nothing in flight, checking
 * every timeout/20 (between 25 ms and 1 s), so the daemon ends at most 5 %
 * (at most 1 s) after the timeout.
 */
export function watchIdle(st: State, timeoutMs: number): IdleWatch {
  let done!: () => void;
  const idle = new Promise<void>((r) => (done = r));
  const every = Math.min(1000, Math.max(25, Math.floor(timeoutMs / 20)));
  const timer = setInterval(() => {
    if (st.phase !== "serving" || st.inFlight > 0 || Date.now() - st.lastActiveAt < timeoutMs) return;
    clearInterval(timer);
    done();
  }, every);
  return { idle, stop: () => clearInterval(timer) };
}
