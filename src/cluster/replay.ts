/**
 * `RedisReplayCache`: the request replay cache in Redis, shared by every
 * daemon of the cluster (docs/CLUSTER.md §5, §7): a request accepted by one
 * daemon is refused as a replay by every other one. Same semantics as the
 * in-memory `NonceCache` (src/auth/nonces.ts) per key id, with the key's
 * share; the whole-cache bound is Redis's memory (`noeviction`).
 *
 * An entry lives until its timestamp + the clock window + `SKEW_MS`, so a
 * daemon whose clock is up to `SKEW_MS` behind another's still finds it.
 * In the quiet period after Redis lost its state, requests signed before
 * its end are refused `unavailable` (with `retryAfter`): none of them can
 * be a replay of a request accepted in the lost epoch.
 * @module
 */
import { HushError } from "../errors.ts";
import type { KeyVersions, RememberResult, ReplayCache } from "../broker/index.ts";
import type { RedisConnection } from "./connection.ts";

/** How far the daemons' clocks may differ (ms) without a replay slipping through. */
export const SKEW_MS = 5_000;

export class RedisReplayCache implements ReplayCache {
  readonly size = 0;
  readonly refusals = new Map<string, number>();
  /** Set when the daemon shares its keys too: versions are compared in the same script. */
  keys?: KeyVersions;

  constructor(
    private readonly _conn: RedisConnection,
    private readonly _windowMs: number,
    private readonly _perKey: number,
  ) {}

  async remember(keyId: string, nonce: string, ts: number, now: number): Promise<RememberResult> {
    const quiet = this._conn.quietUntil;
    if (ts < quiet) {
      const left = Math.max(1, Math.ceil((quiet - now) / 1000));
      throw new HushError("unavailable", `the state backend lost its state; requests are refused until its quiet period ends at ${new Date(quiet).toISOString()} (in ${left}s)`, { retryAfter: left });
    }
    const keys = this.keys;
    const reply = (await this._conn.run("remember", [keyId, nonce, ts + this._windowMs + SKEW_MS, now, this._perKey, keys ? keys.storedVer(keyId) : ""])) as string[];
    const r = reply[0] as RememberResult;
    if (keys && reply.length === 3) keys.changed(keyId, Number(reply[1]), reply[2]);
    if (r === "full") this.refusals.set("replay_cache_per_key", (this.refusals.get("replay_cache_per_key") ?? 0) + 1);
    return r;
  }

  purgeAll(): void {}

  clear(): void {}
}
