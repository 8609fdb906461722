/**
 * `hush serve`: run the daemon on an owner-only unix socket until SIGINT,
 * SIGTERM or SIGHUP (or `--idle-timeout` without use), then drain, wipe, unlink, and close the audit log. The
 * signal handlers are installed first and never removed: a signal during
 * start-up undoes what was made (secrets wiped, the audit run closed), and a
 * second one during the drain only cuts the drain short.
 * @module
 */
import { defineCommand } from "citty";
import { HushError } from "../src/errors.ts";
import { claimSocketDir, startDaemon, type Daemon } from "../src/server/daemon.ts";
import { trapStopSignals } from "../src/server/signals.ts";
import type { LoadedCred } from "../src/server/creds-load.ts";
import { maskOwner } from "../src/server/masking.ts";
import { hardenProcess } from "../src/os/harden.ts";
import { collectRepeated } from "../src/server/creds-load.ts";
import { socketPathArgs } from "./_shared.ts";
import { VERSION } from "./_version.ts";
import { invokedName } from "./_usage.ts";
import { encodeServerPublic } from "../src/keys/index.ts";
import { auditOptions, buildConfig, loadCreds, loadServerKey, openAudit } from "./_sources.ts";
import { formatPin, wipe } from "../src/crypto/index.ts";
import { expiryArgs, limitArgs } from "./_limits.ts";
import { backendArgs, openBackend } from "./_backend.ts";
import { Logger, Masker } from "../src/observe/index.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description: "Run the hush daemon in the foreground.",
  },
  args: {
    ...socketPathArgs,
    "socket-mode": { type: "string", description: "mode of hush.sock: 0600 (default) or 0660 with --socket-group", valueHint: "MODE" },
    "socket-group": { type: "string", description: "group allowed to connect to hush.sock (admin.sock stays owner-only)", valueHint: "GROUP" },
    "max-items": { type: "string", description: "most items in the store (default 10000)", valueHint: "N" },
    "max-value": { type: "string", description: "largest value, e.g. 256k (default 256 KiB)", valueHint: "SIZE" },
    "max-body": { type: "string", description: "largest request body, e.g. 1m (default 1 MiB)", valueHint: "SIZE" },
    ...expiryArgs,
    mlock: {
      type: "boolean",
      default: true,
      description: "lock memory with mlockall so secrets are not swapped out (on by default)",
      negativeDescription: "do not lock memory (without CAP_IPC_LOCK or an unlimited memlock limit it cannot work anyway)",
    },
    "clock-window": { type: "string", description: "accepted clock skew of signed requests (default 60s)", valueHint: "DURATION" },
    "server-key-file": { type: "string", description: "the server's X25519 key from `hush keygen server` (default: $HUSH_SERVER_KEY, else an ephemeral key)", valueHint: "FILE" },
    "key-rate": { type: "string", description: "requests per second per worker key, burst twice that (default 500; 0 = unlimited)", valueHint: "N" },
    "join-rate": { type: "string", description: "join handshakes per second from all sources (default 2000; per source 20)", valueHint: "N" },
    listen: { type: "string", description: "also listen on TCP for workers on other hosts: https://HOST:PORT (TLS; pinned by workers)", valueHint: "URL" },
    "tls-cert": { type: "string", description: "PEM certificate for --listen (default: a self-signed one made in memory at start)", valueHint: "FILE" },
    "tls-key": { type: "string", description: "PEM private key for --tls-cert", valueHint: "FILE" },
    "insecure-loopback": { type: "boolean", description: "allow --listen http://127.0.0.1:PORT without TLS (loopback only; for tests)" },
    "creds-file": { type: "string", description: "load credentials at start from a JSON or dotenv file", valueHint: "FILE" },
    cred: { type: "string", description: "load a credential at start (repeatable): NAME=env:VAR, NAME=file:PATH or NAME=exec:COMMAND", valueHint: "SPEC" },
    "cred-allow": { type: "string", description: "tags allowed to check out a credential loaded at start (repeatable): NAME=tag,tag (default: nobody)", valueHint: "NAME=TAGS" },
    "audit-file": { type: "string", description: "append the tamper-evident audit log to FILE (0600; a new run continues its chain)", valueHint: "FILE" },
    "audit-state-file": { type: "string", description: "seal the audit log forward-securely with this sealing state (from `hush keygen audit --state-out`; rewritten at every seal)", valueHint: "FILE" },
    "audit-key": { type: "string", description: "removed (format-1 sealing): refused with a hint; use --audit-state-file", valueHint: "KEY" },
    "audit-hmac-key-file": { type: "string", description: "secret for `hush audit hash`, so hashes match across restarts (default: random per run)", valueHint: "FILE" },
    "audit-seal-every": { type: "string", description: "seal after this many audit lines (default 100)", valueHint: "N" },
    "audit-seal-interval": { type: "string", description: "seal unsealed lines at least this often (default 10s)", valueHint: "DURATION" },
    "log-level": { type: "string", description: "debug, info (default), warn or error", valueHint: "LEVEL" },
    "idle-timeout": { type: "string", description: "stop (wipe, exit 0) after this long without a signed request; health, stats, metrics and audit streams do not count (default: never)", valueHint: "DURATION" },
    ...limitArgs,
    ...backendArgs,
  },
  async run({ args, rawArgs }) {
    // First: from here to exit, no stop signal takes the default action (invariant 7).
    const signals = trapStopSignals();
    // Before any secret (HUSH_SERVER_KEY, --server-key-file) is read into memory.
    const hardening = hardenProcess({ mlock: args.mlock !== false });
    const config = buildConfig(args);
    const log = new Logger({ level: config.logLevel, masker: new Masker() });
    // What start-up has made so far, undone (last first) on a failed start or a signal during it.
    const undo: (() => void)[] = [];
    let started;
    try {
      // Before the audit file or any socket is touched: one daemon per socket directory.
      const lock = await claimSocketDir(config);
      undo.push(() => lock.release());
      const serverKey = loadServerKey(args["server-key-file"]);
      if (serverKey) undo.push(() => wipe(serverKey.secretKey));
      // Fail fast: every credential source is read before anything listens.
      const creds = await loadCreds(args["creds-file"], collectRepeated(rawArgs, "--cred"), collectRepeated(rawArgs, "--cred-allow"), signals.abort);
      undo.push(() => creds.forEach((c) => wipe(...c.values)));
      if (creds.length > config.limits.maxCreds) throw new HushError("invalid_request", `${creds.length} credentials at start, more than --max-creds ${config.limits.maxCreds}`);
      if (signals.received) throw signals.abort.reason;
      const audit = openAudit(auditOptions(args), (s) => log.masker.mask(s), VERSION, (healthy, error) => {
        // Once per change of health, not per request (the writer tells only transitions).
        if (healthy) log.info("the audit log can be written again; serving requests that need it");
        else log.error("the audit log cannot be written; refusing changes and secret reads (503) until it recovers", { file: args["audit-file"], error });
      });
      const w = audit.writer;
      undo.push(() => wipe(audit.hmacKey), () => w?.close()); // the run's start line gets its stop line
      for (const note of w?.warnings ?? []) log.warn(note);
      const backend = await openBackend(args, config, log);
      if (backend) undo.push(() => backend.store.close());
      if (signals.received) throw signals.abort.reason;
      const d = await startDaemon(config, { version: VERSION, serverKey, log, audit: w, auditLog: w, auditHmacKey: audit.hmacKey, lock, backend });
      started = { d, w, lock, creds, serverKey, backend };
    } catch (e) {
      for (const f of undo.reverse()) f();
      if (!signals.received) throw e;
      log.info("stopped during start-up; nothing was served", { signal: signals.received });
      return 0;
    }
    const { d, w, lock } = started;
    const ticker = w ? setInterval(() => w.tick(), 1000) : undefined;
    if (w) log.info("audit log", { file: w.path, sealed: !!args["audit-state-file"], healthy: w.healthy });
    for (const w of hardening.warnings) log.warn(w);
    _loadCreds(d, log, started.creds);
    _announce(d, log, !!started.serverKey);
    // A second signal (or `timeout`'s signal to the group) cuts the drain short; the wipe still runs.
    signals.onSignal((sig, n) => n > 1 && d.hurry());
    const why = await Promise.race([signals.first, d.idle.then(() => "idle" as const)]);
    log.info("shutting down", why === "idle" ? { reason: "idle_timeout", idle_ms: d.state.config.idleShutdownMs } : { signal: why });
    await d.stop();
    clearInterval(ticker);
    if (w && !w.close()) {
      const { lastError, pendingLines } = w.status();
      log.error("the audit log could not be closed cleanly: this run has no stop line and closing seal, so hush audit verify --closed fails on it", { error: lastError, lines_not_written: pendingLines });
    }
    lock.release();
    log.info(started.backend ? "stopped; local state wiped, shared state left in the backend, sockets removed" : "stopped; store wiped, sockets removed");
    return 0;
  },
});

/** Hand the start-up credentials to the store (it owns and wipes their buffers from now on). */
function _loadCreds(d: Daemon, log: Logger, creds: LoadedCred[]): void {
  for (const c of creds) {
    for (const v of c.values) d.state.masker.add(new TextDecoder().decode(v), { owner: maskOwner.cred(c.name) });
    d.state.creds.put(c.name, c.values, { allow: c.allow, mode: c.mode, source: c.source });
    d.state.audit.record({ actor: "startup", via: "serve", action: "cred.load", target: c.name, result: "ok", reason: c.source.split(":")[0] });
    if (c.allow.length === 0) log.warn("credential loaded but allowed for no worker (default deny); use --cred-allow or an allow list", { name: c.name });
    else log.info("credential loaded", { name: c.name, source: c.source, mode: c.mode, allow: c.allow });
  }
}

/** Log where the daemon listens, its TLS pin and server key, and print how to connect. */
function _announce(d: Daemon, log: Logger, keyFromFile: boolean): void {
  log.info("listening", { socket: d.socketPath, admin_socket: d.adminSocketPath, version: VERSION, pid: process.pid });
  const pub = encodeServerPublic(d.state.serverKeys.active.publicKey);
  if (d.url) {
    const pin = d.state.tlsPin ? formatPin(d.state.tlsPin) : undefined;
    log.info("listening on TCP", { url: d.url, tls_pin: pin, self_signed: d.state.tlsSelfSigned ?? false });
    if (pin) process.stderr.write(`hush: TLS pin ${pin} (carried in tokens; check with: curl --pinnedpubkey '${pin}' -k ${d.url}/v1/health)\n`);
    else log.warn("plain HTTP on loopback: requests are signed but not encrypted (--insecure-loopback)");
  }
  if (keyFromFile) log.info("server key loaded", { server_key: pub });
  else log.warn("no --server-key-file or HUSH_SERVER_KEY: using a server key made for this run (its public key changes at every start)", { server_key: pub });
  const hush = invokedName();
  process.stderr.write(
    `hush: ready. In another terminal, issue a worker credential and use it:\n` +
      `  export HUSH_SOCKET=${d.socketPath}\n` +
      `  ${hush} workers issue --name me --out me.cred\n` +
      `  export HUSH_CREDENTIAL="$(cat me.cred)"\n` +
      `  printf %s s3cret | ${hush} kv set api/token --ttl 10m\n` +
      `  ${hush} kv get api/token\n` +
      `(Workers on other machines join with a token instead: ${hush} token create --out join.token)\n`,
  );
}
