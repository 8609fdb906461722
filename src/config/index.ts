/**
 * Flags + environment → one typed, validated daemon config. The table of
 * secure defaults lives here; SECURITY.md quotes it.
 * @module
 */
import { HushError } from "../errors.ts";
import { TTL_LIMITS, checkTtl } from "./ttl.ts";

export { TTL_LIMITS, checkTtl, formatDuration, type TtlRule } from "./ttl.ts";

export interface DaemonConfig {
  /** Path of the worker socket (hush.sock); admin.sock sits beside it. */
  socketPath: string;
  /** Mode for hush.sock (default 0600). The admin socket is always 0600. */
  socketMode: number;
  /** Group that may connect to hush.sock (with socketMode 0660). */
  socketGroup?: string;
  limits: {
    maxItems: number;
    maxValueBytes: number;
    maxKeyBytes: number;
    maxBodyBytes: number;
    ttlRequired: boolean;
    /** TTL given to a new KV key written without one (ms); 0 = none. Needs `ttlRequired`. */
    defaultTtlMs: number;
    /** Keys written without `slide` slide on every read (PROTOCOL.md §8 "Expiry"). */
    slidingTtl: boolean;
    maxTtlMs: number;
    /** Most keys in one page of `GET /v1/kv` (a larger `limit` is cut to it). */
    maxListPage: number;
    /** Keys one key may list per second, bursts of twice that (0 = unlimited). */
    listRate: number;
    /** Most credentials. */
    maxCreds: number;
    /** Most live credential leases of one worker key. */
    maxLeasesPerWorker: number;
    /** Most live worker keys (issued and joined). */
    maxWorkers: number;
    /** Most usable join tokens. */
    maxTokens: number;
  };
  /** Accepted clock skew for signed requests. */
  clockWindowMs: number;
  nonceCacheMax: number;
  /** Most replay-cache entries of one key (its share of `nonceCacheMax`). */
  nonceCachePerKey: number;
  maxInFlight: number;
  /** A compressed body may inflate to at most this many times its size (1–10; src/server/inflate.ts). */
  maxInflateRatio: number;
  requestTimeoutMs: number;
  idleTimeoutS: number;
  /** `--idle-timeout`: stop (wipe, exit) after this long without use (ms; src/server/idle.ts); 0 = never. */
  idleShutdownMs: number;
  drainTimeoutMs: number;
  sweepIntervalMs: number;
  logLevel: "debug" | "info" | "warn" | "error";
  /**
   * A TCP listener for workers on other hosts: `https://HOST:PORT` (TLS with
   * `tls`, or a self-signed certificate made at start), or `http://` to a
   * loopback address only (with --insecure-loopback).
   */
  listen?: { url: string; tls?: { certPem: string; keyPem: string } };
  /** How long a rotated-away key keeps working for requests in flight. */
  rekeyGraceMs: number;
  /** Requests per second per key id, and burst (token bucket); rate 0 = unlimited. */
  keyRate: { rate: number; burst: number };
  /**
   * Join handshakes per second (and burst): for all sources together, per
   * source (an IPv4 address or IPv6 /64) and per network (IPv4 /24, IPv6
   * /48; default 4 × per source). See src/server/joinlimit.ts.
   */
  joinRate: { global: number; globalBurst: number; perSource: number; perSourceBurst: number; perNetwork?: number; perNetworkBurst?: number };
  /** The WebSocket transport's limits (src/server/ws.ts, PROTOCOL.md §3.6). */
  ws: WsLimits;
  /**
   * Unauthenticated failures (src/server/failures.ts): the window of their
   * summary records (ms), the records written at once and summarised per
   * window, the (source, action, reason) triples told apart per window, and
   * failures per second per source before `rate_limited` (0 = never) with
   * its burst. `intervalMs` 0 writes every failure at once (tests only: it
   * lifts the bound).
   */
  failures: { intervalMs: number; maxRecords: number; maxTracked: number; rate: number; burst: number };
}

export interface WsLimits {
  /** Largest message in bytes (head and body); a larger one closes the connection (1009). */
  maxMessageBytes: number;
  /** Most messages in flight (received, not yet answered) on one connection. */
  maxInFlight: number;
  /** Most verified messages of one key in flight, over all its connections. */
  maxInFlightPerKey: number;
  /** A connection with no message for this long (ms) is closed (4000). */
  idleTimeoutMs: number;
  /** Most open WebSocket connections, all listeners together. */
  maxConnections: number;
  /** Most open WebSocket connections of one source on the TCP listener (an IPv4 address or IPv6 /64; src/server/ws-guard.ts). */
  maxConnectionsPerSource: number;
  /** A connection that has not carried a verified request for this long (ms) since it opened, or since its last one when it sent a failing one after, is closed (4000). */
  verifyTimeoutMs: number;
}

/** Room for a message's head beyond the body cap. */
export const WS_HEAD_ROOM = 16 * 1024;

/** The secure defaults. */
export const DEFAULTS: Omit<DaemonConfig, "socketPath"> = {
  socketMode: 0o600,
  limits: {
    maxItems: 10_000,
    maxValueBytes: 256 * 1024,
    maxKeyBytes: 256,
    maxBodyBytes: 1024 * 1024,
    ttlRequired: true,
    defaultTtlMs: 0,
    slidingTtl: false,
    maxTtlMs: TTL_LIMITS.store.maxMs,
    maxListPage: 1_000,
    listRate: 20_000,
    maxCreds: 1_000,
    maxLeasesPerWorker: 1_000,
    maxWorkers: 10_000,
    maxTokens: 1_000,
  },
  clockWindowMs: 60_000,
  // About 60 bytes an entry (src/auth/nonces.ts): about 120 MiB when full; an entry lives 60 s, so a
  // daemon sustains about 33 000 signed requests/s before it answers busy (raise it for more).
  nonceCacheMax: 2_000_000,
  // 1/32 of the cache: a key at the default rate (500/s, 1 000 burst) holds at most
  // about 61 000 entries (timestamps up to 60 s ahead live 120 s).
  nonceCachePerKey: 62_500,
  maxInFlight: 512,
  maxInflateRatio: 10,
  requestTimeoutMs: 5_000,
  idleTimeoutS: 10,
  idleShutdownMs: 0,
  drainTimeoutMs: 5_000,
  sweepIntervalMs: 1_000,
  logLevel: "info",
  rekeyGraceMs: 10_000,
  keyRate: { rate: 500, burst: 1_000 },
  joinRate: { global: 2_000, globalBurst: 4_000, perSource: 20, perSourceBurst: 40, perNetwork: 80, perNetworkBurst: 160 },
  ws: { maxMessageBytes: 1024 * 1024 + WS_HEAD_ROOM, maxInFlight: 128, maxInFlightPerKey: 512, idleTimeoutMs: 60_000, maxConnections: 1_000, maxConnectionsPerSource: 64, verifyTimeoutMs: 10_000 },
  failures: { intervalMs: 60_000, maxRecords: 16, maxTracked: 4_096, rate: 10, burst: 20 },
};

/**
 * The replay-cache share a key needs at `rate` requests per second (bursts
 * of `burst`) so that its own traffic never hits it: every nonce lives at
 * most two windows (a timestamp up to one window ahead, plus the window).
 */
export function replayShareFor(rate: number, burst: number, windowMs: number): number {
  return Math.ceil((rate * 2 * windowMs) / 1000) + burst;
}

/** `--socket`, else `$XDG_RUNTIME_DIR/hush/hush.sock`, else `/tmp/hush-<uid>/hush.sock`. */
export function defaultSocketPath(env: Record<string, string | undefined> = process.env): string {
  if (env.HUSH_SOCKET) return env.HUSH_SOCKET;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/hush/hush.sock`;
  return `/tmp/hush-${process.getuid?.() ?? "user"}/hush.sock`;
}

/** The admin socket that sits beside a worker socket. */
export function adminSocketPath(socketPath: string): string {
  const i = socketPath.lastIndexOf("/");
  return (i >= 0 ? socketPath.slice(0, i + 1) : "") + "admin.sock";
}

const DURATION_RE = /^(\d+)(ms|s|m|h|d)$/;
const UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** Parse `90s`, `15m`, `24h`, `7d`, `500ms` into milliseconds. */
export function parseDuration(s: string, what = "duration"): number {
  const m = DURATION_RE.exec(s.trim());
  if (!m) throw new HushError("invalid_request", `${what}: expected a duration like 30s, 15m, 24h or 7d, got ${JSON.stringify(s)}`);
  const v = Number(m[1]) * UNIT[m[2]!]!;
  if (!Number.isSafeInteger(v) || v <= 0) throw new HushError("invalid_request", `${what}: must be positive`);
  return v;
}

/**
 * The KV expiry flags of `hush serve` and `hush run` (`--default-ttl D`,
 * `--sliding-ttl`, `--no-ttl-required`) as limits. A default TTL keeps
 * TTLs required in effect (every key still expires), so it cannot be
 * combined with `--no-ttl-required`: `invalid_request`, naming both.
 */
export function parseExpiryFlags(args: { "default-ttl"?: string; "sliding-ttl"?: boolean; "ttl-required"?: boolean }): {
  ttlRequired: boolean;
  defaultTtlMs: number;
  slidingTtl: boolean;
} {
  const ttlRequired = args["ttl-required"] !== false;
  const d = args["default-ttl"];
  const defaultTtlMs = d === undefined || d === "" ? 0 : checkTtl(parseDuration(d, "--default-ttl"), TTL_LIMITS.store, "--default-ttl");
  if (defaultTtlMs > 0 && !ttlRequired) {
    throw new HushError("invalid_request", "--default-ttl and --no-ttl-required contradict each other", {
      hint: "--default-ttl D gives every key written without a TTL D (keys still expire); --no-ttl-required lets such keys live for ever. Pass one of them",
    });
  }
  return { ttlRequired, defaultTtlMs, slidingTtl: args["sliding-ttl"] === true };
}

/** Parse a socket mode: 0600 or 0660 only (owner, or owner + group). */
export function parseSocketMode(s: string): number {
  if (s === "0600" || s === "600") return 0o600;
  if (s === "0660" || s === "660") return 0o660;
  throw new HushError("invalid_request", `--socket-mode must be 0600 or 0660 (never world-accessible), got ${JSON.stringify(s)}`);
}

export function parsePositiveInt(s: string, what: string): number {
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) <= 0) {
    throw new HushError("invalid_request", `${what}: expected a positive integer, got ${JSON.stringify(s)}`);
  }
  return Number(s);
}

/**
 * Parse a whole number from `min` to `max` (default 1 to 2^53−1) for flag
 * `what`; the message says what is allowed: `zeroMeans` names what 0 does
 * (`0 = unlimited`), a negative `min` allows negatives. `invalid_request`.
 */
export function parseInteger(s: string, what: string, opts: { min?: number; max?: number; zeroMeans?: string } = {}): number {
  const { min = 1, max = Number.MAX_SAFE_INTEGER, zeroMeans } = opts;
  const expected = min < 0 ? "a whole number (negative allowed)" : min === 0 ? (zeroMeans ? `0 (${zeroMeans}) or a positive integer` : "0 or a positive integer") : "a positive integer";
  if (!/^[+-]?\d+$/.test(s.trim())) throw new HushError("invalid_request", `${what}: expected ${expected}, got ${JSON.stringify(s)}`);
  const n = Number(s.trim());
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = min < 0 && -min === max ? `from -${max} to ${max}` : `from ${min} to ${max}`;
    throw new HushError("invalid_request", `${what}: expected ${expected} ${range}, got ${JSON.stringify(s)}`);
  }
  return n === 0 ? 0 : n; // never -0
}

/** Split a comma-separated list flag (`--tags a,b`): no empty item, no empty list (`invalid_request` naming `what`). */
export function parseList(s: string, what: string): string[] {
  const items = s.split(",").map((t) => t.trim());
  if (items.some((t) => t === "")) {
    throw new HushError("invalid_request", s.trim() === "" ? `${what} is empty` : `${what} has an empty item (${JSON.stringify(s)}): two commas in a row, or one at an end`);
  }
  return items;
}

export function parseSize(s: string, what: string): number {
  const m = /^(\d+)(|b|k|kib|m|mib)$/i.exec(s.trim());
  if (!m) throw new HushError("invalid_request", `${what}: expected a size like 262144, 256k or 1m`);
  const mult = { "": 1, b: 1, k: 1024, kib: 1024, m: 1 << 20, mib: 1 << 20 }[m[2]!.toLowerCase()]!;
  return parsePositiveInt(String(Number(m[1]) * mult), what);
}

/** Validate a --listen URL: https anywhere, http only on loopback and only when allowed. */
export function parseListenUrl(raw: string, insecureLoopback: boolean): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HushError("invalid_request", `--listen: not a URL: ${JSON.stringify(raw)} (expected https://HOST:PORT)`);
  }
  if (!u.port) throw new HushError("invalid_request", "--listen: give a port, e.g. https://0.0.0.0:8443");
  if (u.pathname !== "/" || u.search || u.username || u.password) throw new HushError("invalid_request", "--listen: only https://HOST:PORT");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (u.protocol === "https:") return u;
  if (u.protocol === "http:") {
    const loop = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
    if (!loop) throw new HushError("invalid_request", "--listen: plain http:// is refused off loopback; use https://");
    if (!insecureLoopback) throw new HushError("invalid_request", "--listen: plain http:// needs --insecure-loopback (and is only allowed on a loopback address)");
    return u;
  }
  throw new HushError("invalid_request", "--listen: the URL must start with https://");
}
