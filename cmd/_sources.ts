/**
 * Start-up sources of secrets for `hush serve`: the server key and the
 * credentials. All are read and validated before anything listens.
 * @module
 */
import { oneOf } from "./_argv.ts";
import { HushError } from "../src/errors.ts";
import { decodeKeyString, decodeServerSecret, HRP, parseKeyFile } from "../src/keys/index.ts";
import { randomBytes, x25519PublicKey, type X25519KeyPair } from "../src/crypto/index.ts";
import { AuditWriter, SealStateFile, auditHmacKeyId, deriveAuditHmacKey } from "../src/audit/index.ts";
import { validateAllow } from "../src/broker/index.ts";
import { loadCredSpec, parseAllowSpecs, parseCredsFile, type LoadedCred } from "../src/server/creds-load.ts";
import { hint } from "./_shared.ts";
import { readSecretFile } from "./_credentials.ts";
import { applyLimitArgs } from "./_limits.ts";
import { childEnv } from "../src/os/env.ts";
import { loadTls } from "../src/server/tls.ts";
import { DEFAULTS, defaultSocketPath, parseDuration, parseExpiryFlags, parseInteger, parseListenUrl, parsePositiveInt, parseSize, parseSocketMode, type DaemonConfig } from "../src/config/index.ts";

/** All start-up credential sources, validated. `abort` ends a running `exec:` command early. */
export async function loadCreds(file: string | undefined, specs: string[], allowSpecs: string[], abort?: AbortSignal): Promise<LoadedCred[]> {
  const out: LoadedCred[] = [];
  if (file) out.push(...parseCredsFile(readSecretFile(file, "--creds-file", "they could have put credentials and allow-lists in it", "refuse"), file));
  // An exec: command gets none of hush's secrets, nor the variables that env: sources read (src/os/env.ts).
  const envVars = specs.map((s) => /^[^=]*=env:(.+)$/s.exec(s)?.[1]).filter((v): v is string => v !== undefined);
  const execEnv = childEnv(process.env, {}, envVars);
  for (const s of specs) {
    const c = await loadCredSpec(s, /^[^=]*=exec:/.test(s) ? execEnv : process.env, abort);
    for (const w of c.warnings ?? []) hint(w, "warning");
    out.push(c);
  }
  const allow = parseAllowSpecs(allowSpecs);
  for (const [name] of allow) if (!out.some((c) => c.name === name)) throw new HushError("invalid_request", `--cred-allow ${name}: no such credential`);
  const seen = new Set<string>();
  for (const c of out) {
    if (seen.has(c.name)) throw new HushError("invalid_request", `credential ${c.name} is defined twice`);
    seen.add(c.name);
    if (allow.has(c.name)) c.allow = allow.get(c.name)!;
    c.allow = validateAllow(c.allow);
    if (c.mode !== "shared" && c.mode !== "exclusive") throw new HushError("invalid_request", `credential ${c.name}: mode must be shared or exclusive`);
    if (c.mode === "shared" && c.values.length !== 1) throw new HushError("invalid_request", `credential ${c.name}: a shared credential has one value`);
  }
  return out;
}

/** The server key from --server-key-file or HUSH_SERVER_KEY (never argv). */
export function loadServerKey(file: string | undefined): X25519KeyPair | undefined {
  let text = process.env.HUSH_SERVER_KEY;
  if (file) text = readSecretFile(file, "--server-key-file", "they could know or choose the server key", "refuse");
  if (!text) return undefined;
  const secretKey = decodeServerSecret(parseKeyFile(text));
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}


/** --tls-cert and --tls-key, both or neither. */
export function loadTlsFiles(cert: string | undefined, key: string | undefined): { certPem: string; keyPem: string } | undefined {
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new HushError("invalid_request", "--tls-cert and --tls-key go together");
  return {
    certPem: readSecretFile(cert, "--tls-cert", "they could have chosen the certificate", "allow"),
    keyPem: readSecretFile(key, "--tls-key", "they could know or choose the TLS key", "refuse"),
  };
}

/**
 * The audit log (PROTOCOL.md §9): `--audit-file` (append-only, 0600; a new
 * run continues the chain), sealed when `--audit-state-file FILE` (the
 * sealing state from `hush keygen audit --state-out`) is given;
 * `--audit-hmac-key-file` keeps `hush audit hash` stable across restarts
 * (else a random key per run). Opened before anything listens. The removed
 * `--audit-key` (format-1 sealing) is refused with a hint, never ignored.
 */
export function openAudit(
  opts: { file?: string; key?: string; stateFile?: string; hmacKeyFile?: string; sealEvery?: number; sealIntervalMs?: number },
  mask: (s: string) => string,
  version: string,
  onHealthChange?: (healthy: boolean, error: string | null) => void,
): { writer?: AuditWriter; hmacKey: Uint8Array } {
  if (opts.key) {
    throw new HushError(
      "invalid_request",
      "--audit-key (format-1 sealing to an X25519 public key) was removed: anyone with that public key could re-seal the log. Make a verification key and a sealing state with `hush keygen audit --out audit.verify --state-out STATE` (keep audit.verify off this host) and start with --audit-state-file STATE; the runs already in the audit file still verify",
    );
  }
  let hmacKey: Uint8Array;
  if (opts.hmacKeyFile) {
    const text = readSecretFile(opts.hmacKeyFile, "--audit-hmac-key-file", "they could know the key behind `hush audit hash`, or choose it", "refuse");
    const secret = new TextEncoder().encode(parseKeyFile(text));
    if (secret.length < 16) throw new HushError("invalid_request", "--audit-hmac-key-file: the secret must be at least 16 characters (hush keygen secret)");
    hmacKey = deriveAuditHmacKey(secret);
    secret.fill(0);
  } else hmacKey = randomBytes(32);
  if (!opts.file) {
    if (opts.stateFile || opts.sealEvery || opts.sealIntervalMs) throw new HushError("invalid_request", "--audit-state-file and --audit-seal-* need --audit-file FILE");
    return { hmacKey };
  }
  const writer = AuditWriter.open({
    path: opts.file,
    sealing: opts.stateFile ? SealStateFile.load(opts.stateFile) : undefined,
    mask,
    sealEvery: opts.sealEvery,
    sealIntervalMs: opts.sealIntervalMs,
    start: { version, hmac_key_id: auditHmacKeyId(hmacKey) },
    onHealthChange,
  });
  return { writer, hmacKey };
}

/** The `--audit-*` flags of `hush serve`, parsed for openAudit. */
export function auditOptions(args: Record<string, any>): Parameters<typeof openAudit>[0] {
  return {
    file: args["audit-file"],
    key: args["audit-key"],
    stateFile: args["audit-state-file"],
    hmacKeyFile: args["audit-hmac-key-file"],
    sealEvery: args["audit-seal-every"] ? parsePositiveInt(args["audit-seal-every"], "--audit-seal-every") : undefined,
    sealIntervalMs: args["audit-seal-interval"] ? parseDuration(args["audit-seal-interval"], "--audit-seal-interval") : undefined,
  };
}

const sizeText = (b: number) => (b % 1048576 === 0 ? `${b / 1048576} MiB` : b % 1024 === 0 ? `${b / 1024} KiB` : `${b} bytes`);

/** Flags → the daemon config, validated (secure defaults from src/config). */
export function buildConfig(args: Record<string, any>): DaemonConfig {
  const config: DaemonConfig = {
    ...DEFAULTS,
    socketPath: args.socket || defaultSocketPath(),
    socketMode: args["socket-mode"] ? parseSocketMode(args["socket-mode"]) : DEFAULTS.socketMode,
    socketGroup: args["socket-group"] || undefined,
    limits: {
      ...DEFAULTS.limits,
      maxItems: args["max-items"] ? parsePositiveInt(args["max-items"], "--max-items") : DEFAULTS.limits.maxItems,
      maxValueBytes: args["max-value"] ? parseSize(args["max-value"], "--max-value") : DEFAULTS.limits.maxValueBytes,
      maxBodyBytes: args["max-body"] ? parseSize(args["max-body"], "--max-body") : DEFAULTS.limits.maxBodyBytes,
      ...parseExpiryFlags(args),
    },
    idleShutdownMs: args["idle-timeout"] ? parseDuration(args["idle-timeout"], "--idle-timeout") : DEFAULTS.idleShutdownMs,
    clockWindowMs: args["clock-window"] ? parseDuration(args["clock-window"], "--clock-window") : DEFAULTS.clockWindowMs,
    logLevel: (args["log-level"] as DaemonConfig["logLevel"]) || DEFAULTS.logLevel,
  };
  const { maxValueBytes: mv, maxBodyBytes: mb } = config.limits;
  if (mv >= mb) {
    // A value travels inside a request body (as JSON, with its key and TTL): it could never arrive.
    throw new HushError("invalid_request", `--max-value (${sizeText(mv)}) must be smaller than --max-body (${sizeText(mb)})`, {
      hint: `raise --max-body as well, e.g. --max-body ${Math.ceil((mv * 2) / 1048576)}m, or lower --max-value`,
    });
  }
  if (config.socketMode !== 0o600 && !config.socketGroup) {
    throw new HushError("invalid_request", "--socket-mode 0660 needs --socket-group GROUP");
  }
  oneOf(config.logLevel, "--log-level", ["debug", "info", "warn", "error"]);
  if (args["key-rate"] !== undefined) {
    const n = parseInteger(args["key-rate"], "--key-rate", { min: 0, zeroMeans: "unlimited" });
    config.keyRate = { rate: n, burst: 2 * n };
  }
  if (args["join-rate"]) {
    const n = parsePositiveInt(args["join-rate"], "--join-rate");
    config.joinRate = { ...config.joinRate, global: n, globalBurst: 2 * n };
  }
  applyLimitArgs(config, args);
  if (args.listen) {
    parseListenUrl(args.listen, !!args["insecure-loopback"]);
    config.listen = { url: args.listen, tls: loadTlsFiles(args["tls-cert"], args["tls-key"]) };
    // Check the pair now, before any socket or audit line exists.
    if (config.listen.tls) loadTls(config.listen.tls.certPem, config.listen.tls.keyPem);
  } else if (args["tls-cert"] || args["tls-key"]) throw new HushError("invalid_request", "--tls-cert/--tls-key need --listen https://HOST:PORT");
  return config;
}
