/**
 * One `Transport` over several daemons of a cluster (docs/CLUSTER.md §10):
 * a request goes to the daemon that answered last (the first address at
 * first) and moves to the next address **only when it was not sent**: the
 * connection could not be made (refused, no socket file, TLS connect
 * failure, timeout while connecting, WebSocket upgrade not made) or the
 * daemon closed a WebSocket saying it processed nothing (close code 4000).
 * These errors carry `detail.sent === false`.
 *
 * A request that may have reached a daemon (`detail.sent === true`: the
 * connection dropped after it was written, or no answer came in time) is
 * never sent again, to this daemon or another: it fails with HushError
 * `unavailable` saying it may have been carried out, for the caller to
 * decide. Every other error (an answer, a pin mismatch, an untrusted
 * socket) ends the call as it is: a daemon that fails the pin is not a
 * daemon that is down.
 * @module
 */
import { HushError } from "../errors.ts";
import type { Transport } from "./transport.ts";

/** One address's transport (made with no retries of its own) and its name in messages. */
export interface Member {
  what: string;
  transport: Transport;
}

/** True for an error that proves the request was not sent. */
export function notSent(e: unknown): e is HushError {
  return e instanceof HushError && e.code === "unavailable" && e.detail.sent === false;
}

/**
 * A Transport over `members`, in order. `retries`: how many more rounds
 * over every address after the first one fails to connect everywhere, with
 * a pause of 25 ms doubling (at most 1 s) between rounds. Throws HushError
 * `unavailable` (detail `connect: true, sent: false`, `addresses`: each
 * address's last error) when no daemon could be reached.
 */
export function createFailoverTransport(members: readonly Member[], opts: { retries?: number | undefined } = {}): Transport {
  if (members.length === 0) throw new HushError("invalid_request", "no daemon address");
  const retries = opts.retries ?? 5;
  /** The member that answered last: requests start there. */
  let current = 0;
  return {
    async request(method, target, headers, body) {
      const errors = new Map<string, string>();
      for (let round = 0; ; round++) {
        const start = current;
        for (let k = 0; k < members.length; k++) {
          const i = (start + k) % members.length;
          try {
            const res = await members[i]!.transport.request(method, target, headers, body);
            current = i;
            return res;
          } catch (e) {
            if (!notSent(e)) throw e;
            errors.set(members[i]!.what, e.message);
          }
        }
        if (round >= retries) break;
        await new Promise((r) => setTimeout(r, Math.min(25 * 2 ** round, 1000)));
      }
      const list = [...errors.values()].join("; ");
      throw new HushError("unavailable", `cannot reach any of the ${members.length} hush daemons (${list})`, { connect: true, sent: false, addresses: Object.fromEntries(errors) });
    },
    close() {
      for (const m of members) m.transport.close();
    },
  };
}
