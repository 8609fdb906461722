/**
 * Several daemons sharing their state in Redis (docs/CLUSTER.md): the
 * supervised connection, the sealed store and the shared replay cache.
 * Layer: below src/server, above src/broker (whose contract it implements).
 * @module
 */
import { HushError } from "../errors.ts";
import { wipe } from "../crypto/index.ts";
import type { StoreLimits } from "../broker/index.ts";
import { RedisConnection, type ConnectionEvent } from "./connection.ts";
import { ClusterSeal } from "./sealing.ts";
import { RedisReplayCache } from "./replay.ts";
import { RedisStore } from "./store.ts";
import { RedisKeyMirror } from "./keys.ts";
import { RedisTokenMirror } from "./tokens.ts";
import { RedisCredLeases } from "./creds.ts";
import { backendClientUrl, type BackendTarget } from "./url.ts";

export { RedisConnection, type ConnectionEvent } from "./connection.ts";
export { ClusterSeal } from "./sealing.ts";
export { RedisReplayCache, SKEW_MS } from "./replay.ts";
export { RedisKeyMirror } from "./keys.ts";
export { RedisTokenMirror } from "./tokens.ts";
export { RedisCredLeases } from "./creds.ts";
export { RedisStore } from "./store.ts";
export { REDIS_COMMANDS, aclRule } from "./scripts.ts";
export { parseBackendUrl, backendClientUrl, type BackendTarget } from "./url.ts";

/** Most live entries of the shared handshake replay cache (as the in-memory one's bound). */
export const HANDSHAKE_REPLAY_MAX = 200_000;

export interface RedisBackendOptions {
  target: BackendTarget;
  /** From `--backend-password-file` or `$HUSH_BACKEND_PASSWORD` (never argv). */
  password?: string;
  /** The 32-byte cluster key; wiped here once the derived keys are made. */
  clusterKey: Uint8Array;
  prefix: string;
  timeoutMs: number;
  /** PEM CA certificates for `rediss://`. */
  ca?: string;
  /** The clock window (ms): replay-cache entry life and the quiet period. */
  windowMs: number;
  /** A key's share of the replay cache. */
  perKey: number;
  limits?: Partial<StoreLimits>;
  onEvent?: (e: ConnectionEvent) => void;
}

export interface RedisBackend {
  store: RedisStore;
  replay: RedisReplayCache;
  /** Worker and admin key records (src/broker/key-share.ts caches them). */
  keys: RedisKeyMirror;
  /** Join tokens (src/broker/token-share.ts caches them). */
  tokens: RedisTokenMirror;
  /** Credential leases (the values stay in each daemon; src/broker/creds.ts). */
  credLeases: RedisCredLeases;
  /** The join and rekey handshake replay cache (message-1 ephemeral keys, `P n:e`). */
  handshakeReplay: RedisReplayCache;
  connection: RedisConnection;
}

/** Connect (fail fast: see RedisConnection.start) and build the store and replay cache. */
export async function openRedisBackend(o: RedisBackendOptions): Promise<RedisBackend> {
  const seal = new ClusterSeal(o.clusterKey);
  wipe(o.clusterKey);
  if (!/^[A-Za-z0-9:_.{}-]{1,64}$/.test(o.prefix)) throw new HushError("invalid_request", "--backend-prefix: 1-64 characters of A-Z a-z 0-9 : _ . { } -");
  const connection = new RedisConnection({
    url: backendClientUrl(o.target, o.password),
    shownUrl: o.target.shown,
    ca: o.ca,
    prefix: o.prefix,
    timeoutMs: o.timeoutMs,
    check: seal.check,
    quietMs: o.windowMs,
    onEvent: o.onEvent,
  });
  try {
    await connection.start();
  } catch (e) {
    connection.close();
    seal.wipe();
    throw e;
  }
  return { store: new RedisStore(connection, seal, o.limits), replay: new RedisReplayCache(connection, o.windowMs, o.perKey), keys: new RedisKeyMirror(connection, seal), tokens: new RedisTokenMirror(connection, seal), credLeases: new RedisCredLeases(connection, seal), handshakeReplay: new RedisReplayCache(connection, o.windowMs, HANDSHAKE_REPLAY_MAX), connection };
}
