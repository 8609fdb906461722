/**
 * One supervised connection to Redis (docs/CLUSTER.md §2, §7, §8), through
 * Bun's built-in `Bun.RedisClient`: hush reconnects itself (the client's
 * own reconnection gives up after its retries, and its offline queue would
 * hold commands for a Redis that may not come back), gives every command a
 * deadline, and fails closed: while the connection is down, every call
 * throws `unavailable` at once.
 *
 * On every (re)connection it checks `maxmemory-policy` (must be
 * `noeviction`), loads the scripts, and sets up or reads `P meta`: the
 * layout version, the cluster-key check and the epoch. An epoch other than
 * the one this daemon knew means Redis lost its state: the new epoch's
 * quiet period starts (§7), and `onEvent` says what was lost.
 * @module
 */
import { RedisClient } from "bun";
import { HushError } from "../errors.ts";
import { randomBytes, toB64u } from "../crypto/index.ts";
import { SCRIPTS, type Script, type ScriptName } from "./scripts.ts";

export interface ConnectionOptions {
  /** The client URL, with the user and password (in memory only; never logged). */
  url: string;
  /** The URL without credentials, for messages. */
  shownUrl: string;
  /** PEM CA certificates for `rediss://` (default: the system's). */
  ca?: string;
  /** Key prefix, e.g. `hush:`. */
  prefix: string;
  /** Longest wait for one answer (ms). */
  timeoutMs: number;
  /** The cluster-key check value (ClusterSeal.check). */
  check: string;
  /** The quiet period after a state loss (ms): the clock window. */
  quietMs: number;
  /** What happened, for logs: down (with why), up (epoch; `lost` when the state was lost). */
  onEvent?: (e: ConnectionEvent) => void;
}

export type ConnectionEvent =
  | { type: "down"; reason: string }
  | { type: "up"; epoch: string; lost: boolean; quietUntil: number };

/** Misses in a row after which the connection is made again. */
const MAX_TIMEOUTS = 3;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1000;

export class RedisConnection {
  /** Why calls are refused now; null while up. */
  private _down: string | null = "not connected yet";
  private _client: RedisClient | undefined;
  private readonly _sha = new Map<string, string>();
  private _epoch = "";
  /** Requests signed before this time (ms) are refused: the quiet period after a state loss. */
  quietUntil = 0;
  private _timeouts = 0;
  private _backoff = BACKOFF_MIN_MS;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _closed = false;
  /** Errors by reason (`timeout`, `connection`, `epoch`, `server`), for metrics. */
  readonly errors = new Map<string, number>();
  /** Epoch changes seen (Redis lost its state). */
  epochs = 0;

  constructor(private readonly _o: ConnectionOptions) {}

  /** The epoch this daemon works in. */
  get epoch(): string {
    return this._epoch;
  }

  /**
   * The first connection. Throws `unavailable` when Redis cannot be reached
   * or refuses the user, and `invalid_request` for a Redis hush must not use
   * (an eviction policy, another cluster key, another layout).
   */
  async start(): Promise<void> {
    await this._connect();
  }

  /** Why the backend cannot serve now (down, or in its quiet period), or null. */
  unavailable(now = Date.now()): string | null {
    if (this._down !== null) return `state backend unavailable: ${this._down}`;
    if (now < this.quietUntil) return `state backend lost its state; quiet until ${new Date(this.quietUntil).toISOString()}`;
    return null;
  }

  /**
   * Run one script with the prefix and epoch in front of `args`.
   * @throws HushError `unavailable` when down, on a miss of the deadline, a
   *   lost connection, an epoch change or any error reply from Redis.
   */
  async run(name: ScriptName, args: (string | number)[]): Promise<any> {
    const client = this._client;
    if (this._down !== null || client === undefined) throw this._unavailable(this._down ?? "not connected");
    const script = SCRIPTS[name];
    const argv = [this._o.prefix, this._epoch, ...args.map(String)];
    try {
      const r = await this._timed(this._eval(client, script, argv));
      this._timeouts = 0;
      return r;
    } catch (e) {
      throw this._failed(client, e);
    }
  }

  /** Close for good (daemon shutdown). */
  close(): void {
    this._closed = true;
    clearTimeout(this._timer);
    this._down = "closed";
    const c = this._client;
    this._client = undefined;
    c?.close();
  }

  private async _eval(client: RedisClient, script: Script, argv: string[]): Promise<any> {
    const sha = this._sha.get(script.name);
    if (sha !== undefined) {
      try {
        return await client.evalsha(sha, 0, ...argv);
      } catch (e) {
        if (!String((e as Error)?.message).startsWith("NOSCRIPT")) throw e;
      }
    }
    return client.eval(script.text, 0, ...argv);
  }

  /** Map a failure to `unavailable`, and go down when the connection is at fault. */
  private _failed(client: RedisClient, e: unknown): HushError {
    if (e instanceof HushError) return e;
    const msg = String((e as Error)?.message ?? e);
    if (e === TIMEOUT) {
      this._count("timeout");
      if (++this._timeouts >= MAX_TIMEOUTS) this._goDown(client, `Redis did not answer within ${this._o.timeoutMs} ms, ${MAX_TIMEOUTS} times in a row`);
      return this._unavailable(`Redis did not answer within ${this._o.timeoutMs} ms`);
    }
    if (msg.includes("HUSHEPOCH")) {
      this._count("epoch");
      this._goDown(client, "the state in Redis is not the one this daemon knew (Redis restarted or was flushed)");
      return this._unavailable("Redis lost its state");
    }
    const code = (e as { code?: string })?.code;
    if (code === "ERR_REDIS_SERVER_ERROR") {
      this._count("server");
      // OOM (maxmemory reached), NOPERM (the ACL user lacks a command), BUSY (a stuck script), …
      return this._unavailable(`Redis refused: ${msg.split(" ")[0]}`);
    }
    this._count("connection");
    this._goDown(client, `connection to Redis lost (${code ?? msg})`);
    return this._unavailable("connection to Redis lost");
  }

  private _unavailable(reason: string): HushError {
    return new HushError("unavailable", `state backend unavailable: ${reason}`);
  }

  private _count(reason: string): void {
    this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
  }

  /** Mark down (once per connection), drop the connection, and reconnect in the background. */
  private _goDown(client: RedisClient, reason: string): void {
    if (this._client !== client || this._closed) return;
    this._client = undefined;
    this._down = reason;
    this._timeouts = 0;
    client.onclose = null;
    client.close();
    this._o.onEvent?.({ type: "down", reason });
    this._schedule();
  }

  private _schedule(): void {
    if (this._closed || this._timer !== undefined) return;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      this._connect().then(
        () => (this._backoff = BACKOFF_MIN_MS),
        (e) => {
          this._down = (e as Error)?.message ?? String(e);
          this._backoff = Math.min(this._backoff * 2, BACKOFF_MAX_MS);
          this._schedule();
        },
      );
    }, this._backoff);
    this._timer.unref?.();
  }

  /** Connect, check the server, load the scripts, and agree on the epoch. */
  private async _connect(): Promise<void> {
    const o = this._o;
    const client = new RedisClient(o.url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: Math.max(o.timeoutMs, 1000),
      ...(o.ca ? { tls: { ca: o.ca } } : {}),
    });
    try {
      await this._timed(client.connect());
      await this._checkServer(client);
      for (const s of Object.values(SCRIPTS)) this._sha.set(s.name, await this._timed(client.script("LOAD", s.text)));
      await this._agreeEpoch(client);
    } catch (e) {
      client.close();
      throw _startError(e, o);
    }
    if (this._closed) return void client.close();
    client.onclose = () => this._goDown(client, "connection to Redis closed");
    this._client = client;
    this._down = null;
  }

  private async _checkServer(client: RedisClient): Promise<void> {
    const info = String(await this._timed(client.send("INFO", ["memory"])));
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy !== undefined && policy !== "noeviction") {
      throw new HushError("invalid_request", `Redis runs with maxmemory-policy ${policy}: hush needs noeviction (an evicted lock or replay-cache entry would break mutual exclusion or let a replay through)`);
    }
  }

  private async _agreeEpoch(client: RedisClient): Promise<void> {
    const o = this._o;
    const knew = this._epoch !== "";
    const [v, epoch, since, check, quiet] = (await this._timed(client.eval(SCRIPTS.init.text, 0, o.prefix, toB64u(randomBytes(16)), o.check, knew ? "1" : "0"))) as string[];
    if (v !== "1") throw new HushError("invalid_request", `${o.prefix}meta in Redis has layout version ${JSON.stringify(v)}; this hush knows version 1`);
    if (check !== o.check) throw new HushError("invalid_request", `the cluster key differs from the one the daemons on ${o.shownUrl} (prefix ${o.prefix}) use`);
    const lost = knew && epoch !== this._epoch;
    if (lost) this.epochs++;
    this._epoch = epoch;
    this.quietUntil = quiet === "1" ? Number(since) + o.quietMs : 0;
    o.onEvent?.({ type: "up", epoch, lost, quietUntil: this.quietUntil });
  }

  /** `p`, or TIMEOUT after the deadline (the command may still run; its late answer is dropped). */
  private _timed<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(TIMEOUT), this._o.timeoutMs)));
    p.catch(() => {});
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }
}

const TIMEOUT = new Error("timeout");

/** A start-up failure as a `HushError` that names what to fix (never the password). */
function _startError(e: unknown, o: ConnectionOptions): HushError {
  if (e instanceof HushError) return e;
  if (e === TIMEOUT) return new HushError("unavailable", `Redis at ${o.shownUrl} did not answer within ${o.timeoutMs} ms`);
  const msg = String((e as Error)?.message ?? e);
  const code = (e as { code?: string })?.code;
  if (/WRONGPASS|AUTH|NOAUTH/i.test(msg) || code === "ERR_REDIS_AUTHENTICATION_FAILED") return new HushError("unavailable", `Redis at ${o.shownUrl} refused the user name or password`);
  if (/NOPERM/.test(msg)) return new HushError("unavailable", `the Redis user lacks a permission hush needs (${msg.split("\n")[0].slice(0, 160)})`);
  return new HushError("unavailable", `cannot connect to Redis at ${o.shownUrl}: ${code ?? msg.slice(0, 160)}`);
}
