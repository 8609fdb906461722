/**
 * `hush serve` flags for the limits on what clients can make the daemon
 * hold or do (SECURITY.md "Secure defaults"): credentials and their leases,
 * worker keys, join tokens, listing pages and the listing rate, the replay
 * cache and its per-key share, the per-source join rate, and the WebSocket
 * transport's limits. Defaults live in src/config.
 * @module
 */
import { HushError } from "../src/errors.ts";
import { DEFAULTS, WS_HEAD_ROOM, parseDuration, parseInteger, parsePositiveInt, parseSize, replayShareFor, type DaemonConfig } from "../src/config/index.ts";

/** How KV keys expire (`hush serve` and `hush run`; src/config `parseExpiryFlags`). */
export const expiryArgs = {
  "ttl-required": {
    type: "boolean",
    default: true,
    description: "a new key must come with a TTL, or get --default-ttl (on by default)",
    negativeDescription: "a new key written without a TTL never expires (not with --default-ttl)",
  },
  "default-ttl": {
    type: "string",
    description: "TTL of a new key written without one, e.g. 30m (at most 30d; default: none, the TTL is required)",
    valueHint: "DURATION",
  },
  "sliding-ttl": {
    type: "boolean",
    description: "every read of a key pushes its expiry out by its TTL, unless the write said slide: false (never past 30d after its last write)",
  },
} as const;

const n = (description: string) => ({ type: "string" as const, description, valueHint: "N" });

export const limitArgs = {
  "max-workers": n(`most live worker keys, issued and joined (default ${DEFAULTS.limits.maxWorkers})`),
  "max-tokens": n(`most usable join tokens (default ${DEFAULTS.limits.maxTokens})`),
  "max-creds": n(`most credentials (default ${DEFAULTS.limits.maxCreds})`),
  "max-leases-per-worker": n(`most live credential leases of one worker (default ${DEFAULTS.limits.maxLeasesPerWorker})`),
  "max-list": n(`most keys in one page of a KV listing (default ${DEFAULTS.limits.maxListPage})`),
  "list-rate": n(`keys one worker may list per second, bursts of twice that (default ${DEFAULTS.limits.listRate}; 0 = unlimited)`),
  "replay-cache": n(`most nonces remembered in all (default ${DEFAULTS.nonceCacheMax})`),
  "replay-cache-per-key": n(`most nonces remembered for one key (default ${DEFAULTS.nonceCachePerKey}, or what --key-rate needs if more)`),
  "join-rate-source": n(`joins per second per source address (IPv6: per /64), burst twice that; per /24 or /48 network 4× (default ${DEFAULTS.joinRate.perSource})`),
  "ws-max-message": { type: "string" as const, description: "largest WebSocket message, head and body (default: --max-body + 16k); a larger one closes the connection", valueHint: "SIZE" },
  "ws-max-in-flight": n(`most WebSocket messages in flight on one connection (default ${DEFAULTS.ws.maxInFlight})`),
  "ws-max-in-flight-key": n(`most WebSocket messages of one key in flight, all its connections together (default ${DEFAULTS.ws.maxInFlightPerKey})`),
  "ws-idle": { type: "string" as const, description: `close a WebSocket connection after this long without a message (default ${DEFAULTS.ws.idleTimeoutMs / 1000}s)`, valueHint: "DURATION" },
  "max-inflate-ratio": n(`a compressed request body (gzip, zstd) may inflate to at most N times its size, 1 to 10 (default ${DEFAULTS.maxInflateRatio}); never past --max-body`),
  "ws-max-connections": n(`most open WebSocket connections (default ${DEFAULTS.ws.maxConnections})`),
  "ws-max-connections-source": n(`most open WebSocket connections from one address (IPv6: one /64) on the TLS port (default ${DEFAULTS.ws.maxConnectionsPerSource})`),
  "ws-verify-timeout": { type: "string" as const, description: `close a WebSocket connection that carries no verified request for this long (default ${DEFAULTS.ws.verifyTimeoutMs / 1000}s)`, valueHint: "DURATION" },
};

/** Apply the limit flags to `config` (after --key-rate and --clock-window are set). */
export function applyLimitArgs(config: DaemonConfig, args: Record<string, any>): void {
  const opt = (flag: string, dflt: number) => (args[flag] ? parsePositiveInt(args[flag], `--${flag}`) : dflt);
  const l = config.limits;
  config.limits = {
    ...l,
    maxWorkers: opt("max-workers", l.maxWorkers),
    maxTokens: opt("max-tokens", l.maxTokens),
    maxCreds: opt("max-creds", l.maxCreds),
    maxLeasesPerWorker: opt("max-leases-per-worker", l.maxLeasesPerWorker),
    maxListPage: opt("max-list", l.maxListPage),
    listRate: args["list-rate"] === undefined ? l.listRate : parseInteger(args["list-rate"], "--list-rate", { min: 0, zeroMeans: "unlimited" }),
  };
  config.nonceCacheMax = opt("replay-cache", config.nonceCacheMax);
  config.maxInflateRatio = opt("max-inflate-ratio", config.maxInflateRatio);
  if (config.maxInflateRatio > 10) throw new HushError("invalid_request", `--max-inflate-ratio: at most 10, got ${config.maxInflateRatio}`, { hint: "the hardening rule caps inflation at 10× the compressed size; send more compressible values uncompressed" });
  // A key's share covers what its own rate limit lets it send, unless the operator says otherwise.
  const needed = config.keyRate.rate > 0 ? replayShareFor(config.keyRate.rate, config.keyRate.burst, config.clockWindowMs) : 0;
  config.nonceCachePerKey = Math.min(config.nonceCacheMax, opt("replay-cache-per-key", Math.max(config.nonceCachePerKey, needed)));
  config.ws = {
    maxMessageBytes: args["ws-max-message"] ? parseSize(args["ws-max-message"], "--ws-max-message") : config.limits.maxBodyBytes + WS_HEAD_ROOM,
    maxInFlight: opt("ws-max-in-flight", config.ws.maxInFlight),
    maxInFlightPerKey: opt("ws-max-in-flight-key", config.ws.maxInFlightPerKey),
    idleTimeoutMs: args["ws-idle"] ? parseDuration(args["ws-idle"], "--ws-idle") : config.ws.idleTimeoutMs,
    maxConnections: opt("ws-max-connections", config.ws.maxConnections),
    maxConnectionsPerSource: opt("ws-max-connections-source", config.ws.maxConnectionsPerSource),
    verifyTimeoutMs: args["ws-verify-timeout"] ? parseDuration(args["ws-verify-timeout"], "--ws-verify-timeout") : config.ws.verifyTimeoutMs,
  };
  if (args["join-rate-source"]) {
    const r = parsePositiveInt(args["join-rate-source"], "--join-rate-source");
    config.joinRate = { ...config.joinRate, perSource: r, perSourceBurst: 2 * r, perNetwork: 4 * r, perNetworkBurst: 8 * r };
  }
}
