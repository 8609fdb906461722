/**
 * Shared argument groups, output helpers and exit codes for the hush CLI
 * (errors are printed by _report.ts; which daemon a command talks to is
 * decided in _target.ts). Secrets never come from argv: credentials come
 * from the environment or files (_credentials.ts), values from stdin or
 * --value-file (_value.ts).
 * @module
 */
import { closeSync, openSync, unlinkSync, writeSync, constants as fsc } from "node:fs";
import { HushError } from "../src/errors.ts";
import { fileError } from "./_files.ts";
import { TTL_LIMITS, checkTtl, parseDuration as parseDurationImpl } from "../src/config/index.ts";

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
  url: {
    type: "string",
    description:
      "a controller's URL (https://HOST:PORT) instead of the local socket, or several daemons of a cluster, comma-separated (tried in order; the next only when one cannot be reached) (default: $HUSH_URL, then the credential or token file's # addresses line)",
    valueHint: "URL[,URL…]",
  },
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
    description: "sign admin requests with a HUSH-ADMIN-1… credential on hush.sock (or --url) instead of using admin.sock (default: $HUSH_ADMIN_CREDENTIAL)",
    valueHint: "FILE",
  },
  url: {
    type: "string",
    description: "a controller's URL (https://HOST:PORT) instead of the local socket, or several, comma-separated; needs the admin credential (default: $HUSH_URL, then its file's # addresses line)",
    valueHint: "URL[,URL…]",
  },
  "tls-pin": urlArgs["tls-pin"],
} as const;

/** `--addresses` of the commands that write a token or credential file. */
export const addressesArgs = {
  addresses: {
    type: "string",
    description:
      "write these daemon addresses into the --out file's # addresses line, comma-separated, in the order to try them: https://HOST:PORT, http://127.0.0.1:PORT or unix:/PATH/hush.sock (the daemons of a cluster; commands using the file go there)",
    valueHint: "URL[,URL…]",
  },
} as const;

export const jsonArgs = {
  json: { type: "boolean", description: "print JSON for scripts" },
} as const;

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

/** Print rows as a plain aligned table (no colour): each column as wide as its widest cell, the last one unpadded. */
export function printTable(header: string[], rows: string[][]): void {
  // A loop, not Math.max(...rows): an audit file's merged lines can outnumber a call's arguments.
  const w = header.map((h) => h.length);
  for (const r of rows) for (const [i, c] of r.entries()) w[i] = Math.max(w[i] ?? 0, c.length);
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join("  ");
  process.stdout.write([line(header), ...rows.map(line)].join("\n") + "\n");
}

export function formatTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-";
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
export function createSecretFile(path: string, flag = "--out"): SecretFile {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (e: any) {
    throw fileError(e, "create", flag, path);
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
export async function withSecretFile<T>(path: string | undefined, make: () => Promise<T>, flag = "--out"): Promise<[T, SecretFile | undefined]> {
  const f = path ? createSecretFile(path, flag) : undefined;
  try {
    return [await make(), f];
  } catch (e) {
    f?.discard();
    throw e;
  }
}

/** Write a secret file at once (exclusive create, 0600). */
export function writeSecretFile(path: string, text: string, flag = "--out"): void {
  createSecretFile(path, flag).write(text);
}

/** `--ttl` of a KV key (kv set, kv incr). */
export const kvTtlArg = {
  ttl: {
    type: "string",
    description:
      "time to live, e.g. 30s, 10m, 24h (at most 30d; 0 is refused); without it an existing key keeps its expiry, and a new key gets the daemon's --default-ttl, or is refused unless the daemon runs with --no-ttl-required (then it never expires)",
    valueHint: "DURATION",
  },
} as const;

/** `--ttl` of a lock or a pool lease: always required. */
export const leaseTtlArg = {
  ttl: { type: "string", required: true, description: "time to live, e.g. 30s, 10m, 24h (at most 30d)", valueHint: "DURATION" },
} as const;

/** `--wait D` of lock acquire and pool lease: how long to wait while it is held or full. */
export const waitArg = {
  wait: {
    type: "string",
    description: "wait up to DURATION (e.g. 30s) while it is taken, trying again every ~100 ms with jitter (default: exit 4 at once)",
    valueHint: "DURATION",
  },
} as const;

/** The SDK's `wait` option from `--wait D` (undefined when absent). */
export function optWait(wait: string | undefined): { timeoutMs: number } | undefined {
  return wait === undefined ? undefined : { timeoutMs: parseDurationImpl(wait, "--wait") };
}

/**
 * A duration flag checked against its rule in the TTL table shared with the
 * daemon (src/config/ttl.ts): `undefined` when absent; `invalid_request` /
 * `invalid_ttl` naming the flag otherwise. A zero (`0`, `0s`) is refused
 * with the daemon's reason: it never means "no expiry".
 */
export function optTtl(ttl: string | undefined, kind: keyof typeof TTL_LIMITS, flag = "--ttl"): number | undefined {
  if (ttl === undefined) return undefined;
  if (/^\s*0+(ms|s|m|h|d)?\s*$/.test(ttl)) {
    throw new HushError("invalid_ttl", `${flag} 0 is refused (it never means "no expiry"); leave ${flag} out to get the daemon's default`);
  }
  return checkTtl(parseDurationImpl(ttl, flag), TTL_LIMITS[kind], flag);
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
