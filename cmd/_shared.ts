/**
 * Shared argument groups, output helpers, error printing and exit codes for
 * the hush CLI. Secrets never come from argv: credentials come from
 * HUSH_CREDENTIAL or --credential-file, values from stdin.
 * @module
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync, constants as fsc } from "node:fs";
import { constants as osc } from "node:os";
import { parseKeyFile } from "../src/keys/index.ts";
import { HushError, type ErrorCode } from "../src/errors.ts";
import { childEnv } from "../src/os/env.ts";

/** Exit codes (documented in README.md). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  unavailable: 6,
} as const;

const CODE_EXIT: Partial<Record<ErrorCode, number>> = {
  invalid_request: EXIT.usage,
  ttl_required: EXIT.usage,
  invalid_ttl: EXIT.usage,
  too_large: EXIT.usage,
  not_found: EXIT.notFound,
  conflict: EXIT.conflict,
  max_items: EXIT.conflict,
  auth_failed: EXIT.auth,
  rekey_required: EXIT.auth,
  forbidden: EXIT.auth,
  unavailable: EXIT.unavailable,
  busy: EXIT.unavailable,
  rate_limited: EXIT.unavailable,
};

/** --socket alone (for `hush serve`, which owns the socket). */
export const socketPathArgs = {
  socket: {
    type: "string",
    description: "path of the daemon's hush.sock (default: $HUSH_SOCKET, then $XDG_RUNTIME_DIR/hush/hush.sock, then /tmp/hush-<uid>/hush.sock)",
    valueHint: "PATH",
  },
} as const;

/** --socket and --socket-owner, for every command that connects to a socket. */
export const socketArgs = {
  ...socketPathArgs,
  "socket-owner": {
    type: "string",
    description:
      "the user (name or uid) that runs the daemon: the socket and its directory must belong to it, or nothing is sent (default: $HUSH_SOCKET_OWNER, else you)",
    valueHint: "USER",
  },
} as const;

/** The --socket-owner flag as SDK option (undefined: $HUSH_SOCKET_OWNER, else the caller). */
export function socketOwner(args: { "socket-owner"?: string }): string | undefined {
  return args["socket-owner"] || undefined;
}

export const urlArgs = {
  url: { type: "string", description: "a controller's URL (https://HOST:PORT) instead of the local socket (default: $HUSH_URL)", valueHint: "URL" },
  "tls-pin": { type: "string", description: "override the controller's TLS pin (sha256//BASE64) carried in the credential or token", valueHint: "PIN" },
} as const;

export const credentialArgs = {
  ...socketArgs,
  ...urlArgs,
  "credential-file": {
    type: "string",
    description: "file holding a HUSH-WORKER-1… credential (default: $HUSH_CREDENTIAL)",
    valueHint: "FILE",
  },
} as const;

export const adminArgs = {
  ...socketArgs,
  "admin-credential-file": {
    type: "string",
    description: "sign admin requests with a HUSH-ADMIN-1… credential on hush.sock instead of using admin.sock (default: $HUSH_ADMIN_CREDENTIAL)",
    valueHint: "FILE",
  },
} as const;

/** What admin commands need: a call that returns the answer's JSON. */
export interface AdminCaller {
  call<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * The admin socket (the OS user is the admin), or signed requests with an
 * admin credential when one is given.
 */
export async function adminClient(args: { socket?: string; "socket-owner"?: string; "admin-credential-file"?: string }): Promise<AdminCaller> {
  const file = args["admin-credential-file"];
  const env = process.env.HUSH_ADMIN_CREDENTIAL;
  const { AdminClient, Client } = await import("../src/client/index.ts");
  if (file || env) {
    let credential = env ?? "";
    if (file) {
      warnIfLoose(file);
      try {
        credential = readFileSync(file, "utf8");
      } catch (e: any) {
        throw new HushError("invalid_request", `cannot read admin credential file ${file}: ${e?.code ?? e}`);
      }
    }
    return new Client({ socket: args.socket || undefined, socketOwner: socketOwner(args), credential, autoRekey: false });
  }
  return new AdminClient({ socket: args.socket || undefined, socketOwner: socketOwner(args) });
}

export const jsonArgs = {
  json: { type: "boolean", description: "print JSON for scripts" },
} as const;

/** The worker credential, from --credential-file or HUSH_CREDENTIAL. */
export function loadCredential(file: string | undefined): string {
  if (file) {
    warnIfLoose(file);
    try {
      return parseKeyFile(readFileSync(file, "utf8"));
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read credential file ${file}: ${e?.code ?? e}`);
    }
  }
  const env = process.env.HUSH_CREDENTIAL;
  if (!env) throw new HushError("invalid_request", "no credential given");
  return env;
}

/** Warn when a secret file is readable by group or others. */
export function warnIfLoose(file: string): void {
  try {
    const m = statSync(file).mode & 0o077;
    if (m) hint(`${file} is readable by other users (mode ${(statSync(file).mode & 0o777).toString(8)}); chmod 600 it`, "warning");
  } catch {}
}

/** Read all of stdin as bytes. */
export async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of process.stdin as any) chunks.push(c as Uint8Array);
  return new Uint8Array(Buffer.concat(chunks));
}

export function hint(msg: string, kind: "hint" | "warning" = "hint"): void {
  process.stderr.write(`hush: ${kind}: ${msg}\n`);
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v) + "\n");
}

/** Print rows as a plain aligned table (no colour). */
export function printTable(header: string[], rows: string[][]): void {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ");
  process.stdout.write([line(header), ...rows.map(line)].join("\n") + "\n");
}

export function formatTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-";
}

const HINTS: Partial<Record<string, string>> = {
  "no credential given": "set HUSH_CREDENTIAL or pass --credential-file FILE (from `hush workers issue`)",
  ttl_required: "pass --ttl, e.g. --ttl 10m",
  auth_failed: "the credential may be revoked, expired or for another daemon; issue a new one with `hush workers issue`",
  rekey_required: "the admin asked this worker to rotate its key: join again (hush join) for a fresh credential, or use an SDK client that owns the credential (it rotates by itself)",
};

const UNTRUSTED_SOCKET_HINT =
  "another user may have made this path to receive your requests: remove it if it is not yours, or choose a private path (--socket, $HUSH_SOCKET, $XDG_RUNTIME_DIR). " +
  "If the daemon runs as another user (a service user with --socket-group), name it with --socket-owner USER or $HUSH_SOCKET_OWNER";

/** Print `hush: error: …` (+ hint) and return the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof HushError) {
    process.stderr.write(`hush: error: ${e.message}\n`);
    const h = HINTS[e.message] ?? (e.message.startsWith("join refused") ? "ask the admin for a new token (`hush token create`)" : HINTS[e.code]);
    if (e.detail.untrustedSocket) hint(UNTRUSTED_SOCKET_HINT);
    else if (e.detail.connect) hint("is `hush serve` running? pass --socket PATH or set HUSH_SOCKET (or --url for a remote controller)");
    else if (e.detail.pinMismatch) hint("this is not the controller that made your token/credential, or its TLS key changed: compare the pin `hush serve` printed; --tls-pin overrides");
    else if (typeof e.detail.hint === "string") hint(e.detail.hint);
    else if (h) hint(h);
    return CODE_EXIT[e.code] ?? EXIT.error;
  }
  const msg = (e as Error)?.message ?? String(e);
  process.stderr.write(`hush: error: ${msg}\n`);
  return EXIT.error;
}

/** Parse a --ttl flag (30s, 10m, 24h, 7d). */
export { parseDuration } from "../src/config/index.ts";

/** A secret file created exclusively (0600) but not yet written. */
export interface SecretFile {
  path: string;
  write(text: string): void;
  /** Remove the (still empty) file when the secret could not be made. */
  discard(): void;
}

/**
 * Create a secret file before the secret exists: exclusive create (never
 * overwrite, never follow a symlink), mode 0600 (invariant 1). Opening it
 * first means a refused path never leaves a minted key nobody holds.
 */
export function createSecretFile(path: string): SecretFile {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (e: any) {
    if (e?.code === "EEXIST") throw new HushError("conflict", `${path} already exists; refusing to overwrite a key file`);
    throw new HushError("invalid_request", `cannot create ${path}: ${e?.code ?? e}`);
  }
  let open = true;
  return {
    path,
    write(text) {
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
        open = false;
      }
    },
    discard() {
      if (open) closeSync(fd);
      open = false;
      try {
        unlinkSync(path);
      } catch {}
    },
  };
}

/** Run `make` with a secret file already created; remove the file if `make` fails. */
export async function withSecretFile<T>(path: string | undefined, make: () => Promise<T>): Promise<[T, SecretFile | undefined]> {
  const f = path ? createSecretFile(path) : undefined;
  try {
    return [await make(), f];
  } catch (e) {
    f?.discard();
    throw e;
  }
}

/** Write a secret file at once (exclusive create, 0600). */
export function writeSecretFile(path: string, text: string): void {
  createSecretFile(path).write(text);
}

/** A signed worker client from the shared --socket / --credential-file args. */
export async function workerClient(args: { socket?: string; "socket-owner"?: string; url?: string; "tls-pin"?: string; "credential-file"?: string }) {
  const { Client } = await import("../src/client/index.ts");
  // One-shot CLI processes never rotate: the rotated key would die with the process.
  return new Client({
    socket: args.socket || undefined,
    socketOwner: socketOwner(args),
    url: args.url || undefined,
    tlsPin: args["tls-pin"] || undefined,
    credential: loadCredential(args["credential-file"]),
    autoRekey: false,
  });
}

export const ttlArg = {
  ttl: { type: "string", description: "time to live, e.g. 30s, 10m, 24h (required unless the daemon runs with --no-ttl-required)", valueHint: "DURATION" },
} as const;

export function optTtl(ttl: string | undefined): number | undefined {
  return ttl ? parseDurationImpl(ttl, "--ttl") : undefined;
}
import { parseDuration as parseDurationImpl } from "../src/config/index.ts";

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/**
 * Run a child command with extra environment, forwarding SIGINT/SIGTERM/SIGHUP;
 * resolves to its exit code (128 + signal number when a signal ended it).
 * The child never gets a join token (src/os/env.ts), nor the variables in `drop`.
 */
export async function runChild(cmd: string[], extraEnv: Record<string, string>, drop: readonly string[] = []): Promise<number> {
  let child;
  try {
    child = Bun.spawn(cmd, { stdio: ["inherit", "inherit", "inherit"], env: childEnv(process.env, extraEnv, drop) });
  } catch (e: any) {
    throw new HushError("invalid_request", `cannot start ${cmd[0]}: ${e?.code ?? e?.message ?? e}`);
  }
  const handlers = (Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]).map((s) => [s, () => child.kill(SIGNALS[s])] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const code = await child.exited;
    if (child.signalCode) return 128 + ((osc.signals as Record<string, number>)[child.signalCode] ?? 1);
    return code;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}

/** A new key file: to --out (exclusive, 0600) or stdout (with a warning on a terminal); the public key to stderr. */
export function emitKeyFile(out: string | undefined, text: string, publicKey: string): void {
  if (out) writeSecretFile(out, text);
  else {
    if (process.stdout.isTTY) hint("printing a secret key to a terminal; prefer --out FILE", "warning");
    process.stdout.write(text);
  }
  process.stderr.write(`Public key: ${publicKey}\n`);
}
