/**
 * The daemon: state, two unix listeners (hush.sock for signed worker
 * requests, admin.sock for the owner), the sweeper, and an orderly stop
 * that drains, wipes the store and unlinks the sockets (invariant 7).
 * Used by `hush serve` and by `hush run`.
 * @module
 */
import { dirname } from "node:path";
import { CredentialStore, KeyRegistry, MemoryStore, ServerKeys, TokenRegistry, type KeyRecord } from "../broker/index.ts";
import { NonceCache, RequestVerifier } from "../auth/index.ts";
import { RateLimiter } from "./ratelimit.ts";
import { generateX25519, randomBytes, wipe, type X25519KeyPair } from "../crypto/index.ts";
import { Logger, Masker, Registry } from "../observe/index.ts";
import { adminSocketPath, type DaemonConfig } from "../config/index.ts";
import { createFetch } from "./app.ts";
import type { AuditLog, AuditSink, State } from "./state.ts";
import { createServerMetrics } from "./metrics.ts";
import { loadTls, makeSelfSigned, type TlsMaterial } from "./tls.ts";
import { HushError } from "../errors.ts";
import { lookupGroup, openToGroup, prepareSocketDir, reclaimSocket, unlinkQuiet, withPrivateUmask } from "./socket.ts";

export interface Daemon {
  state: State;
  socketPath: string;
  adminSocketPath: string;
  /** The TCP listener's URL, when there is one. */
  url?: string;
  /** Drain (≤ drainTimeoutMs), wipe everything, unlink sockets. Idempotent. */
  stop(): Promise<void>;
}

export interface StartOptions {
  version: string;
  serverKey?: X25519KeyPair;
  log?: Logger;
  audit?: AuditSink;
  auditLog?: AuditLog;
  auditHmacKey?: Uint8Array;
}

export async function startDaemon(config: DaemonConfig, opts: StartOptions): Promise<Daemon> {
  const masker = opts.log?.masker ?? new Masker();
  const log = opts.log ?? new Logger({ level: config.logLevel, masker });
  const now = () => Date.now();
  const registry = new KeyRegistry(now);
  const st: State = {
    config,
    version: opts.version,
    startedAt: Date.now(),
    store: new MemoryStore({ now, limits: config.limits, tokenBase: Date.now() * 1000 }),
    registry,
    verifier: new RequestVerifier<KeyRecord>({
      lookup: (id) => registry.get(id),
      now,
      windowMs: config.clockWindowMs,
      nonceCacheMax: config.nonceCacheMax,
    }),
    serverKeys: new ServerKeys(opts.serverKey ?? generateX25519(), now),
    tokens: new TokenRegistry(now),
    creds: new CredentialStore(now, config.limits),
    audit: opts.audit ?? { record() {}, healthy: true },
    auditLog: opts.auditLog,
    auditHmacKey: opts.auditHmacKey ?? randomBytes(32),
    handshakeReplay: new NonceCache(200_000, config.clockWindowMs),
    keyLimiter: new RateLimiter(config.keyRate.rate, config.keyRate.burst),
    joinLimits: {
      global: new RateLimiter(config.joinRate.global, config.joinRate.globalBurst),
      perSource: new RateLimiter(config.joinRate.perSource, config.joinRate.perSourceBurst),
    },
    log,
    masker,
    metrics: new Registry(),
    inFlight: 0,
    streams: new Set(),
    phase: "starting",
  };
  masker.add(st.serverKeys.active.secretKey);

  const sock = config.socketPath;
  const adminSock = adminSocketPath(sock);
  const gid = config.socketGroup !== undefined ? lookupGroup(config.socketGroup) : undefined;
  prepareSocketDir(dirname(sock), gid !== undefined);
  for (const p of [sock, adminSock]) {
    if ((await reclaimSocket(p)) === "reclaimed") log.warn("reclaimed a stale socket", { path: p });
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
  const workerFetch = createFetch(st, "worker", metrics);
  const adminFetch = createFetch(st, "admin", metrics);
  const servers: ReturnType<typeof Bun.serve>[] = withPrivateUmask(() => [
    Bun.serve({ ...common, unix: sock, fetch: workerFetch }),
    // The admin socket is owner-only; no idle timeout, so `audit tail -f` streams stay open.
    Bun.serve({ ...common, idleTimeout: 0, unix: adminSock, fetch: adminFetch }),
  ]);
  if (gid !== undefined) openToGroup(sock, gid, config.socketMode);
  let tcpUrl: string | undefined;
  if (config.listen) {
    const u = new URL(config.listen.url);
    const hostname = u.hostname.replace(/^\[|\]$/g, "");
    let tls: TlsMaterial | undefined;
    if (u.protocol === "https:") {
      tls = config.listen.tls ? loadTls(config.listen.tls.certPem, config.listen.tls.keyPem) : makeSelfSigned([...new Set([hostname, "localhost", "127.0.0.1"])]);
      st.tlsPin = tls.pin;
      st.tlsSelfSigned = !config.listen.tls;
    }
    try {
      servers.push(
        Bun.serve({ ...common, hostname, port: Number(u.port), fetch: workerFetch, ...(tls ? { tls: { cert: tls.certPem, key: tls.keyPem } } : {}) }),
      );
    } catch (e: any) {
      for (const s of servers) s.stop(true);
      unlinkQuiet(sock);
      unlinkQuiet(adminSock);
      throw new HushError("invalid_request", `cannot listen on ${u.host}: ${e?.code ?? e?.message ?? e}`);
    }
    tcpUrl = `${u.protocol}//${u.host}`;
  }

  const sweeper = setInterval(() => {
    st.store.sweep();
    st.registry.sweep();
    st.tokens.sweep();
    st.creds.sweep();
    st.handshakeReplay.purgeAll(Date.now());
    st.verifier.nonces.purgeAll(Date.now());
  }, config.sweepIntervalMs);
  st.phase = "serving";

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      st.phase = "draining";
      clearInterval(sweeper);
      // Long-lived audit follow streams would hold the drain for its whole timeout.
      for (const close of st.streams) close();
      const graceful = Promise.all(servers.map((s) => s.stop(false)));
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), config.drainTimeoutMs).unref?.());
      if ((await Promise.race([graceful, timeout])) === "timeout") {
        log.warn("drain timed out; closing remaining connections");
        await Promise.all(servers.map((s) => s.stop(true)));
      }
      st.store.wipe();
      st.registry.wipe();
      st.tokens.wipe();
      st.creds.wipe();
      st.verifier.nonces.clear();
      st.serverKeys.wipe();
      wipe(st.auditHmacKey);
      unlinkQuiet(sock);
      unlinkQuiet(adminSock);
    })());

  return { state: st, socketPath: sock, adminSocketPath: adminSock, url: tcpUrl, stop };
}
