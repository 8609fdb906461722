/**
 * The daemon: state, two unix listeners (hush.sock for signed worker
 * requests, over HTTP or as WebSocket messages (ws.ts); admin.sock for the
 * owner, HTTP only), the sweeper, and an orderly stop
 * that drains, wipes the store and unlinks the sockets (invariant 7). The
 * daemon holds its socket directory's lock (src/os/lock.ts) while its
 * sockets exist, and unlinks only the socket files it bound (invariant 5).
 * Used by `hush serve` and by `hush run`.
 * @module
 */
import { dirname } from "node:path";
import { CredentialStore, KeyRegistry, SharedCredCheckouts, type CredLeaseBook, MemoryStore, ServerKeys, SharedKeyRegistry, SharedTokenRegistry, TokenRegistry, type KeyMirror, type TokenMirror, type KeyRecord, type KeyVersions, type ReplayCache, type StateBackend } from "../broker/index.ts";
import { NonceCache, RequestVerifier } from "../auth/index.ts";
import { RateLimiter } from "./ratelimit.ts";
import { JoinLimiter } from "./joinlimit.ts";
import { FailureLedger, flushFailures } from "./failures.ts";
import { installKeyEnd } from "./revoke.ts";
import { generateX25519, randomBytes, wipe, type X25519KeyPair } from "../crypto/index.ts";
import { Logger, Masker, Registry } from "../observe/index.ts";
import { adminSocketPath, DEFAULTS, type DaemonConfig } from "../config/index.ts";
import { createFetch } from "./app.ts";
import { watchIdle, type IdleWatch } from "./idle.ts";
import { createWsTransport, type WsTransport } from "./ws.ts";
import type { AuditLog, AuditSink, State } from "./state.ts";
import { createServerMetrics } from "./metrics.ts";
import { maskOwner } from "./masking.ts";
import { loadTls, makeSelfSigned, tlsServerOptions, type TlsMaterial } from "./tls.ts";
import { HushError } from "../errors.ts";
import { boundSocket, lookupGroup, openToGroup, prepareSocketDir, reclaimSocket, refuseLiveSocket, unlinkOwnSocket, withPrivateUmask, type BoundSocket } from "./socket.ts";
import { lockSocketDir, type DaemonLock } from "../os/lock.ts";

export interface Daemon {
  state: State;
  socketPath: string;
  adminSocketPath: string;
  /** The TCP listener's URL, when there is one. */
  url?: string;
  /**
   * Drain (≤ drainTimeoutMs, or until hurry()), wipe everything, unlink the
   * sockets this daemon bound, then drop the lock if startDaemon took it.
   * Idempotent: every call returns the same promise. Never rejects.
   */
  stop(): Promise<void>;
  /** Cut the drain short: close the remaining connections now. The wipe and unlink still run. */
  hurry(): void;
  /**
   * Resolves when the daemon has been unused for `config.idleShutdownMs`
   * (idle.ts), after recording the `idle_stop` audit event; never when that
   * is 0 (off) or the daemon stops first. The caller stops (`hush serve`).
   */
  idle: Promise<void>;
}

export interface StartOptions {
  version: string;
  /**
   * The coordination state and replay cache to serve from (a shared
   * backend: src/cluster); default a new in-memory store and cache. The
   * daemon closes the backend when it stops.
   */
  backend?: {
    store: StateBackend;
    replay: ReplayCache & { keys?: KeyVersions };
    /** Shared keys, join tokens and handshake replay cache (docs/CLUSTER.md §10); each in memory when absent. */
    keys?: KeyMirror;
    tokens?: TokenMirror;
    handshakeReplay?: ReplayCache;
    /** Credential leases (the values stay here; src/broker/cred-share.ts). */
    credLeases?: CredLeaseBook;
    connection?: State["cluster"];
  };
  serverKey?: X25519KeyPair;
  log?: Logger;
  audit?: AuditSink;
  auditLog?: AuditLog;
  auditHmacKey?: Uint8Array;
  /**
   * The socket directory's lock, taken earlier by the caller (claimSocketDir);
   * the caller then releases it, after stop(). Without it, startDaemon takes
   * the lock itself and stop() releases it.
   */
  lock?: DaemonLock;
}

/**
 * Check (or create) the socket directory of `config.socketPath`, take its
 * daemon lock, and make sure nothing answers on its sockets, before anything
 * else that belongs to one daemon (sockets, the audit file) is touched.
 * @throws HushError `invalid_request` (a directory or lock file not ours, or
 *   loose), `conflict` (another daemon holds the lock), `unavailable`.
 */
export async function claimSocketDir(config: DaemonConfig): Promise<DaemonLock> {
  const dir = dirname(config.socketPath);
  prepareSocketDir(dir, config.socketGroup !== undefined);
  const lock = lockSocketDir(dir);
  try {
    // The lock is ours, but a live socket means its daemon's hush.lock was deleted: refuse now, before the audit file is touched.
    for (const p of [config.socketPath, adminSocketPath(config.socketPath)]) await refuseLiveSocket(p);
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock;
}

export async function startDaemon(config: DaemonConfig, opts: StartOptions): Promise<Daemon> {
  const st = _makeState(config, opts);
  const lock = opts.lock ?? (await claimSocketDir(config));
  const l = await _listen(st, lock).catch((e) => {
    _wipeState(st);
    if (!opts.lock) lock.release();
    throw e;
  });

  const sweeper = setInterval(() => {
    const swept = st.store.sweep();
    // A shared backend that cannot answer says so itself (metrics, logs, /v1/ready).
    if (swept instanceof Promise) swept.catch(() => {});
    st.registry.sweep();
    st.tokens.sweep();
    st.creds.sweep();
    st.masker.expire(Date.now());
    st.handshakeReplay.purgeAll(Date.now());
    st.verifier.nonces.purgeAll(Date.now());
    st.keyLimiter.prune();
    st.joinLimits.prune();
    flushFailures(st);
  }, config.sweepIntervalMs);
  st.phase = "serving";
  st.lastActiveAt = Date.now();
  const idleWatch = config.idleShutdownMs > 0 ? watchIdle(st, config.idleShutdownMs) : undefined;

  let hurry: () => void = () => {};
  const hurried = new Promise<"hurry">((r) => (hurry = () => r("hurry")));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      st.phase = "draining";
      clearInterval(sweeper);
      idleWatch?.stop();
      const draining = _drain(st, l.servers, hurried);
      // Requests in flight finish (and record their events) first; then the audit run ends, so its
      // stop line and closing seal reach `audit tail -f` streams, which end themselves after them.
      await _inFlightDone(st, hurried);
      l.ws.close();
      flushFailures(st, true);
      st.auditLog?.close();
      for (const close of st.streams) close();
      await draining;
      _wipeState(st);
      for (const s of l.bound) unlinkOwnSocket(s);
      if (!opts.lock) lock.release();
    })());

  return { state: st, socketPath: config.socketPath, adminSocketPath: adminSocketPath(config.socketPath), url: l.url, stop, hurry: () => hurry(), idle: _idleStop(st, idleWatch) };
}

/** The daemon's `idle` promise: the watch's, audited (PROTOCOL.md §9.5); never for no watch. */
function _idleStop(st: State, w: IdleWatch | undefined): Promise<void> {
  if (!w) return new Promise<void>(() => {});
  return w.idle.then(() => st.audit.record({ actor: "daemon", via: "serve", action: "idle_stop", result: "ok", reason: "idle_timeout" }));
}

function _makeState(config: DaemonConfig, opts: StartOptions): State {
  const masker = opts.log?.masker ?? new Masker();
  const log = opts.log ?? new Logger({ level: config.logLevel, masker });
  const now = () => Date.now();
  const registry = _makeRegistry(config, opts, now);
  const creds = new CredentialStore(now, config.limits);
  const st: State = {
    config,
    version: opts.version,
    startedAt: Date.now(),
    store: opts.backend?.store ?? new MemoryStore({ now, limits: config.limits, tokenBase: Date.now() * 1000 }),
    cluster: opts.backend?.connection,
    registry,
    verifier: new RequestVerifier<KeyRecord>({
      lookup: (id) => registry.get(id),
      fetch: registry instanceof SharedKeyRegistry ? (id) => registry.fetch(id) : undefined,
      now,
      windowMs: config.clockWindowMs,
      nonceCacheMax: config.nonceCacheMax,
      nonceCachePerKey: config.nonceCachePerKey,
      replay: opts.backend?.replay,
    }),
    serverKeys: new ServerKeys(opts.serverKey ?? generateX25519(), now),
    tokens: opts.backend?.tokens ? new SharedTokenRegistry(opts.backend.tokens, now, config.limits) : new TokenRegistry(now, config.limits),
    creds,
    checkouts: opts.backend?.credLeases ? new SharedCredCheckouts(creds, opts.backend.credLeases) : creds,
    audit: opts.audit ?? { record() {}, healthy: true },
    auditLog: opts.auditLog,
    auditHmacKey: opts.auditHmacKey ?? randomBytes(32),
    handshakeReplay: opts.backend?.handshakeReplay ?? new NonceCache(200_000, config.clockWindowMs),
    keyLimiter: new RateLimiter(config.keyRate.rate, config.keyRate.burst),
    joinLimits: new JoinLimiter(config.joinRate),
    failures: new FailureLedger(config.failures ?? DEFAULTS.failures, now),
    log,
    masker,
    metrics: new Registry(),
    inFlight: 0,
    lastActiveAt: Date.now(),
    streams: new Set(),
    phase: "starting",
  };

  masker.add(st.serverKeys.active.secretKey, { owner: maskOwner.serverKey(st.serverKeys.active.id) });
  installKeyEnd(st);
  if (registry instanceof SharedKeyRegistry) {
    registry.onWriteError = (id, e) => log.warn("a key change could not be shared yet; the sweeper tries again", { key_id: id, err: String((e as Error)?.message ?? e) });
  }
  return st;
}

/** The key registry: in memory, or a cache of the records a shared backend holds (docs/CLUSTER.md §10). */
function _makeRegistry(config: DaemonConfig, opts: StartOptions, now: () => number): KeyRegistry {
  const b = opts.backend;
  if (!b?.keys) return new KeyRegistry(now, config.limits);
  const shared = new SharedKeyRegistry(b.keys, now, config.limits);
  b.replay.keys = shared;
  return shared;
}

type Server = ReturnType<typeof Bun.serve>;

/**
 * Reclaim stale sockets (under `lock`), bind both unix listeners (and the TCP
 * one). On failure, stop what was started and unlink what was bound.
 */
async function _listen(st: State, lock: DaemonLock): Promise<{ servers: Server[]; bound: BoundSocket[]; url?: string; ws: WsTransport }> {
  const config = st.config;
  const sock = config.socketPath;
  const adminSock = adminSocketPath(sock);
  const servers: Server[] = [];
  const bound: BoundSocket[] = [];
  let wsClose: (() => void) | undefined;
  try {
    const gid = config.socketGroup !== undefined ? lookupGroup(config.socketGroup) : undefined;
    for (const p of [sock, adminSock]) {
      if ((await reclaimSocket(p, lock)) === "reclaimed") st.log.warn("reclaimed a stale socket", { path: p });
    }
    const metrics = createServerMetrics(st);
    // Bun's types omit idleTimeout for unix listeners, but it applies (BUN-NOTES).
    const common: any = {
      // Backstop only: the pipeline refuses bodies over maxBodyBytes itself
      // (unbuffered, with a JSON error); Bun's own 413 has no JSON body.
      maxRequestBodySize: Math.max(64 << 20, config.limits.maxBodyBytes * 4),
      idleTimeout: config.idleTimeoutS,
      development: false,
      error: () => new Response('{"error":"internal","message":"internal error"}', { status: 500 }),
    };
    // hush.sock and TCP also speak WebSocket (GET /v1/ws); admin.sock HTTP only.
    const ws = createWsTransport(st, metrics);
    wsClose = ws.close;
    const workerFetch = ws.fetch("worker", createFetch(st, "worker", metrics));
    const adminFetch = createFetch(st, "admin", metrics);
    withPrivateUmask(() => {
      servers.push(Bun.serve({ ...common, unix: sock, fetch: workerFetch, websocket: ws.websocket }));
      bound.push(boundSocket(sock));
      // The admin socket is owner-only; no idle timeout, so `audit tail -f` streams stay open.
      servers.push(Bun.serve({ ...common, idleTimeout: 0, unix: adminSock, fetch: adminFetch }));
      bound.push(boundSocket(adminSock));
    });
    if (gid !== undefined) openToGroup(sock, gid, config.socketMode);
    const url = config.listen ? _listenTcp(st, { ...common, websocket: ws.websocket }, ws.fetch("tcp", createFetch(st, "tcp", metrics)), servers) : undefined;
    return { servers, bound, url, ws };
  } catch (e) {
    wsClose?.();
    for (const s of servers) s.stop(true);
    for (const s of bound) unlinkOwnSocket(s);
    throw e;
  }
}

/** The TCP listener of `--listen` (TLS with a pin, or plain HTTP on loopback); returns its URL. */
function _listenTcp(st: State, common: any, fetch: (req: Request, server: Server) => any, servers: Server[]): string {
  const u = new URL(st.config.listen!.url);
  const hostname = u.hostname.replace(/^\[|\]$/g, "");
  let tls: TlsMaterial | undefined;
  if (u.protocol === "https:") {
    const given = st.config.listen!.tls;
    tls = given ? loadTls(given.certPem, given.keyPem) : makeSelfSigned([...new Set([hostname, "localhost", "127.0.0.1"])]);
    st.tlsPin = tls.pin;
    st.tlsSelfSigned = !given;
  }
  try {
    servers.push(Bun.serve({ ...common, hostname, port: Number(u.port), fetch, ...(tls ? { tls: tlsServerOptions(tls) } : {}) }));
  } catch (e: any) {
    throw new HushError("invalid_request", `cannot listen on ${u.host}: ${e?.code ?? e?.message ?? e}`);
  }
  return `${u.protocol}//${u.host}`;
}

/** Stop accepting, let requests in flight finish; close what is left at the timeout or on hurry. */
async function _drain(st: State, servers: Server[], hurried: Promise<"hurry">): Promise<void> {
  const graceful = Promise.all(servers.map((s) => s.stop(false)));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), st.config.drainTimeoutMs)));
  const how = await Promise.race([graceful.then(() => "done" as const), timeout, hurried]);
  clearTimeout(timer);
  if (how === "done") return;
  st.log.warn(how === "timeout" ? "drain timed out; closing remaining connections" : "stop signal during the drain: closing remaining connections now");
  await Promise.all(servers.map((s) => s.stop(true)));
}

/** Resolves when no request is in flight, at the drain timeout, or on hurry (polled every 10 ms). */
async function _inFlightDone(st: State, hurried: Promise<"hurry">): Promise<void> {
  let hurry = false;
  void hurried.then(() => (hurry = true));
  const deadline = Date.now() + st.config.drainTimeoutMs;
  while (st.inFlight > 0 && !hurry && Date.now() < deadline) await Bun.sleep(10);
}

/** Zero-fill every secret the state holds (invariant 7); a shared backend only closes its connection. */
function _wipeState(st: State): void {
  const closed = st.store.close();
  if (closed instanceof Promise) closed.catch(() => {});
  st.registry.wipe();
  st.tokens.wipe();
  st.creds.wipe();
  st.verifier.nonces.clear();
  st.serverKeys.wipe();
  wipe(st.auditHmacKey);
}
