/**
 * A drop-in `Client` with the surface of ephemeral-broker's
 * (`@ephemeral-broker/core` 1.0.5, src/client.js), over the hush SDK and a
 * hush worker credential: ephemeral-broker's users change only the import
 * line. docs/MIGRATING-FROM-EPHEMERAL-BROKER.md says what is identical and
 * what is stricter, and why.
 *
 *   import { Client } from "hush-broker/ephemeral-broker"; // was "@ephemeral-broker/core"
 *   const client = new Client();                       // HUSH_SOCKET + HUSH_CREDENTIAL (hush run)
 *   await client.set("token", "abc", 60_000);
 *
 * Errors are `Error`s whose message is ephemeral-broker's error string
 * (`not_found`, `too_large`, `max_items`, `ttl_required`, `invalid_ttl`,
 * `auth_failed`, `draining`, `worker_already_has_lease`, …), with the same
 * text in `.code`; a daemon that cannot be reached gives its errno in
 * `.code` (`ENOENT`, `ECONNREFUSED`) as ephemeral-broker's socket errors do.
 * The hush error is kept as `.cause`.
 * @module
 */
import { Client as HushClient, type Status } from "./client.ts";
import { HushError } from "../errors.ts";

export interface ClientOptions {
  /** Per-request timeout in ms (default: CLIENT_TIMEOUT, else 5000). */
  timeout?: number | undefined;
  /** Accepted for compatibility; hush has no client debug log. */
  debug?: boolean | undefined;
  /** Allow `set` without a TTL: the daemon's `--default-ttl` (or no expiry with `--no-ttl-required`) applies. */
  allowNoTtl?: boolean | undefined;
  /** Ignored: hush signs every request with the worker credential instead of a shared secret. */
  secret?: string | undefined;
  /**
   * Send request bodies of `compressionThreshold` bytes or more gzip-compressed (default:
   * CLIENT_COMPRESSION, else true), as ephemeral-broker does. The daemon inflates them; the value
   * limit applies to the inflated value. A body that would inflate past the daemon's ratio cap
   * (10×) is sent uncompressed.
   */
  compression?: boolean | undefined;
  /** In bytes of the request's JSON (default: CLIENT_COMPRESSION_THRESHOLD, else 1024). */
  compressionThreshold?: number | undefined;
  /** A hush worker credential (default: HUSH_CREDENTIAL). */
  credential?: string | undefined;
  /** TTL of a lease given without one, ms (ephemeral-broker's default TTL: 30 min). */
  defaultLeaseTtl?: number | undefined;
}

export interface Capacity {
  items: number;
  maxItems: number;
  utilization: number;
  nearCapacity: boolean;
  atCapacity: boolean;
  warning: "near_capacity" | "at_capacity" | null;
}

export interface Stats {
  items: number;
  leases: number;
  capacity: Capacity;
  memory: { rss: number; heapUsed: number; approximateStoreBytes: number };
  uptime: number;
}

export interface Health {
  ok: boolean;
  status: "healthy" | "degraded";
  uptime: number;
  timestamp: number;
  capacity: Capacity;
  memory: { rss: number; heapUsed: number; heapTotal: number };
  connections: { inFlight: number; draining: boolean };
}

/** Pool size of a lease key: ephemeral-broker's pools are unbounded; hush's largest pool. */
export const LEASE_POOL_SIZE = 65_536;
/** Where the lease of a worker id is remembered (pool and token), so `release(workerId)` finds it. Hidden from `list()`. */
export const LEASE_PREFIX = "_eb_lease/";
const DEFAULT_LEASE_TTL = 30 * 60_000;

/** hush error codes → ephemeral-broker's error strings (the rest pass through). */
const CODES: Record<string, string> = { unavailable: "draining" };

export class Client {
  readonly pipe: string;
  readonly options: { [K in Exclude<keyof ClientOptions, "secret" | "credential">]-?: NonNullable<ClientOptions[K]> } & { secret: string | undefined };
  private readonly hush: HushClient;

  /** `pipe`: hush.sock (default: HUSH_SOCKET, else EPHEMERAL_PIPE). Throws when neither is set, as ephemeral-broker does. */
  constructor(pipe?: string, options: ClientOptions = {}) {
    const p = pipe || process.env.HUSH_SOCKET || process.env.EPHEMERAL_PIPE;
    if (!p) throw new Error("No pipe specified and EPHEMERAL_PIPE not set (run the command under `hush run -- …`, which sets HUSH_SOCKET)");
    this.pipe = p;
    const env = process.env;
    this.options = {
      timeout: options.timeout ?? (env.CLIENT_TIMEOUT ? Number(env.CLIENT_TIMEOUT) : 5000),
      debug: options.debug ?? false,
      allowNoTtl: options.allowNoTtl ?? (env.CLIENT_ALLOW_NO_TTL === "true" || env.CLIENT_ALLOW_NO_TTL === "1"),
      compression: options.compression ?? (env.CLIENT_COMPRESSION === undefined ? true : env.CLIENT_COMPRESSION === "true" || env.CLIENT_COMPRESSION === "1"),
      compressionThreshold: options.compressionThreshold ?? (env.CLIENT_COMPRESSION_THRESHOLD ? Number(env.CLIENT_COMPRESSION_THRESHOLD) : 1024),
      defaultLeaseTtl: options.defaultLeaseTtl ?? DEFAULT_LEASE_TTL,
      secret: options.secret,
    };
    // The SDK's default transport (HUSH_TRANSPORT, else one WebSocket connection, opened at the first call): its socket
    // is unref'd while no call is in flight, so an idle client does not keep a test process alive.
    this.hush = new HushClient({
      socket: p,
      ...(options.credential === undefined ? {} : { credential: options.credential }),
      timeoutMs: this.options.timeout,
      autoRekey: false,
      compress: this.options.compression ? { coding: "gzip", thresholdBytes: this.options.compressionThreshold } : false,
    });
  }

  /** The value; throws `not_found` when missing or expired. */
  async get(key: string): Promise<any> {
    return this.run(() => this.hush.get(key));
  }

  /** Store `value` for `ttl` ms. Without a TTL: `TTL is required…` unless `allowNoTtl`; `ttl` 0 means the daemon's default. */
  async set(key: string, value: any, ttl?: number): Promise<boolean> {
    if (ttl === undefined && !this.options.allowNoTtl) {
      throw new Error("TTL is required for set(). Pass a ttl value or set allowNoTtl: true in client options.");
    }
    if (typeof ttl === "number" && (ttl < 0 || !Number.isFinite(ttl))) throw ebError("invalid_ttl");
    await this.run(() => this.hush.set(key, value, { ttlMs: ttl ? Math.ceil(ttl) : undefined }));
    return true;
  }

  /** Delete; true whether or not the key existed (as ephemeral-broker). */
  async del(key: string): Promise<boolean> {
    await this.run(() => this.hush.del(key));
    return true;
  }

  /** Live keys with their expiry (Unix ms; null when a key never expires). */
  async list(): Promise<Record<string, { expires: number | null; hasValue: boolean }>> {
    const keys = (await this.run(() => this.hush.list(""))).filter((k) => !k.startsWith(LEASE_PREFIX));
    const now = Date.now();
    const out: Record<string, { expires: number | null; hasValue: boolean }> = {};
    const ttls = await Promise.all(keys.map((k) => this.hush.ttl(k).catch(() => undefined)));
    keys.forEach((k, i) => {
      const t = ttls[i];
      if (t !== undefined) out[k] = { expires: t === null ? null : now + t, hasValue: true };
    });
    return out;
  }

  /** A signed round trip; the time (Unix ms) as ephemeral-broker's `pong`. */
  async ping(): Promise<number> {
    await this.run(() => this.hush.whoami());
    return Date.now();
  }

  async stats(): Promise<Stats> {
    const [s, all] = await Promise.all([this.status(), this.run(() => this.hush.list(""))]);
    const leases = all.filter((k) => k.startsWith(LEASE_PREFIX)).length;
    const items = all.length - leases;
    return { items, leases, capacity: capacity(items, s.items.limit), memory: { rss: s.memory.rssBytes, heapUsed: s.memory.heapUsedBytes, approximateStoreBytes: s.bytes.used ?? 0 }, uptime: s.uptimeMs };
  }

  async health(): Promise<Health> {
    const s = await this.status();
    const cap = capacity(s.items.used, s.items.limit);
    return {
      ok: true,
      status: s.status === "ok" && !cap.atCapacity ? "healthy" : "degraded",
      uptime: s.uptimeMs,
      timestamp: Date.now(),
      capacity: cap,
      memory: { rss: s.memory.rssBytes, heapUsed: s.memory.heapUsedBytes, heapTotal: s.memory.heapUsedBytes },
      connections: { inFlight: s.inFlight.used, draining: s.draining },
    };
  }

  /** Prometheus metrics are for admins in hush (`GET /metrics` on admin.sock): always `forbidden` here. */
  async metrics(): Promise<string> {
    throw ebError("forbidden", "metrics are admin-only in hush: read them with `hush` on the admin socket (GET /metrics)");
  }

  /**
   * A slot number (0, 1, …: the smallest free one) of `key` for `workerId`,
   * for `ttl` ms. The same worker asking again for the same key renews and
   * gets the same number; for another key while it holds one:
   * `worker_already_has_lease`.
   */
  async lease(key: string, workerId: string, ttl?: number): Promise<number> {
    if (!key) throw new Error("Key is required for lease()");
    if (!workerId) throw new Error("Worker ID is required for lease()");
    const ttlMs = ttl ? Math.ceil(ttl) : this.options.defaultLeaseTtl;
    const rec = await this.leaseRecord(workerId);
    if (rec && rec.key !== key) throw ebError("worker_already_has_lease");
    const l = await this.run(() => this.hush.lease(key, { size: LEASE_POOL_SIZE, ttlMs, holder: workerId, onePerHolder: true }));
    await this.run(() => this.hush.set(LEASE_PREFIX + workerId, { key, token: l.token }, { ttlMs }));
    return l.slot;
  }

  /** End `workerId`'s lease: true, or false when it held none. */
  async release(workerId: string): Promise<boolean> {
    if (!workerId) throw new Error("Worker ID is required for release()");
    const rec = await this.leaseRecord(workerId);
    if (!rec) return false;
    const r = await this.run(() => this.hush.call("POST", `/v1/pools/${encodeURIComponent(rec.key)}/release`, { token: rec.token }));
    await this.run(() => this.hush.del(LEASE_PREFIX + workerId));
    return r.released === true;
  }

  /** Close the underlying hush client (ephemeral-broker's client holds nothing open; this one neither, but wipes its key). */
  close(): void {
    this.hush.close();
  }

  private status(): Promise<Status> {
    return this.run(() => this.hush.status());
  }

  private async leaseRecord(workerId: string): Promise<{ key: string; token: number } | undefined> {
    try {
      return await this.hush.get(LEASE_PREFIX + workerId);
    } catch (e) {
      if (e instanceof HushError && e.code === "not_found") return undefined;
      throw toEbError(e);
    }
  }

  private async run<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw toEbError(e);
    }
  }
}

function capacity(items: number, maxItems: number): Capacity {
  const utilization = maxItems > 0 ? Math.round((items / maxItems) * 100) / 100 : 0;
  const nearCapacity = utilization >= 0.9;
  const atCapacity = utilization >= 1;
  return { items, maxItems, utilization, nearCapacity, atCapacity, warning: atCapacity ? "at_capacity" : nearCapacity ? "near_capacity" : null };
}

function ebError(code: string, message = code): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** A HushError as ephemeral-broker reports it (module comment); anything else unchanged. */
function toEbError(e: unknown): unknown {
  if (!(e instanceof HushError)) return e;
  if (e.code === "unavailable" && (e.detail as any)?.connect) {
    const errno = /\((E[A-Z]+)\)/.exec(e.message)?.[1] ?? "ECONNREFUSED";
    return Object.assign(new Error(`connect ${errno} (${e.message})`), { code: errno, cause: e });
  }
  if (e.code === "unavailable" && /timed out|timeout/i.test(e.message)) return Object.assign(new Error(e.message), { code: "ETIMEOUT", cause: e });
  const code = CODES[e.code] ?? e.code;
  return Object.assign(new Error(code), { code, cause: e });
}
