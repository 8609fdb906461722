/**
 * Which daemon a command talks to, decided in one place for every command:
 *
 *   1. `--url URL` or `--socket PATH` (both at once is an error: two daemons);
 *   2. `$HUSH_URL`, then `$HUSH_SOCKET`;
 *   3. the default socket path (README "Where the socket lives").
 *
 * A flag beats the environment, so `--socket` means this machine's daemon
 * even when `$HUSH_URL` is set. Admin commands reach a controller's URL only
 * with an admin credential (signed requests); without one they would use
 * this machine's `admin.sock`, so a URL from the flag or the environment is
 * refused there instead of silently ignored. The path given is checked for
 * the usual slips first: a directory, or `admin.sock` for a worker command.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { HushError } from "../src/errors.ts";
import { adminSocketPath, defaultSocketPath } from "../src/config/index.ts";
import { isDirectory } from "./_files.ts";
import { loadCredential, readAdminCredential } from "./_credentials.ts";
import { UsageError } from "./_report.ts";
import { socketOwner } from "./_shared.ts";

export interface TargetArgs {
  socket?: string;
  "socket-owner"?: string;
  url?: string;
  "tls-pin"?: string;
}

/** Where requests go: a URL, or a socket path (hush.sock), and which flag or variable said so. */
export type Target = { url: string; from: "--url" | "$HUSH_URL" } | { socket: string; from: "--socket" | "$HUSH_SOCKET" | "the default path" };

/**
 * Check a controller URL: http(s)://HOST[:PORT], nothing after the port.
 * A path, query or user name would be dropped without a word otherwise.
 */
export function checkUrl(url: string, from: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${from} is not a URL`, "expected https://HOST:PORT (the address `hush serve --listen` printed)");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new UsageError(`${from} must start with https:// (or http:// to a loopback address)`, "expected https://HOST:PORT");
  const extra = [u.pathname !== "/" && u.pathname !== "" && "a path", u.search && "a query", u.hash && "a fragment", (u.username || u.password) && "a user name or password"].filter(Boolean);
  if (extra.length) {
    throw new UsageError(`${from} has ${extra.join(" and ")}; a controller URL is only ${u.protocol}//HOST:PORT`, `use ${u.protocol}//${u.host}`);
  }
  return `${u.protocol}//${u.host}`;
}

/**
 * Who a command is: worker commands sign on hush.sock, admin commands use
 * admin.sock (or sign on hush.sock), `hush health` asks either socket.
 */
export type Role = "worker" | "admin" | "health";

/**
 * Check a socket path given for `role`: not a directory, and for worker
 * commands not admin.sock. Admin commands given admin.sock mean the daemon
 * of that directory, so they get its hush.sock; health checks the socket given.
 */
export function checkSocket(path: string, from: string, role: Role): string {
  if (isDirectory(path)) {
    throw new UsageError(`${from} ${path} is a directory, not the daemon's socket`, `did you mean ${from === "--socket" ? "--socket " : ""}${join(path, "hush.sock")}?`);
  }
  if (basename(path) === "admin.sock" && role !== "health") {
    if (role === "admin") return join(dirname(path), "hush.sock");
    throw new UsageError(`${from} ${path} is the admin socket; worker commands (kv, lock, pool, checkout, join) use hush.sock`, `use ${from === "--socket" ? "--socket " : ""}${join(dirname(path), "hush.sock")}`);
  }
  return path;
}

/** The target of a command with --socket and (maybe) --url, checked. */
export function resolveTarget(args: TargetArgs, role: Role): Target {
  if (args.url && args.socket) throw new UsageError("--url and --socket name two different daemons", "pass one of them");
  if (args.url) return { url: checkUrl(args.url, "--url"), from: "--url" };
  if (args.socket) return { socket: checkSocket(args.socket, "--socket", role), from: "--socket" };
  if (process.env.HUSH_URL) return { url: checkUrl(process.env.HUSH_URL, "$HUSH_URL"), from: "$HUSH_URL" };
  if (process.env.HUSH_SOCKET) return { socket: checkSocket(process.env.HUSH_SOCKET, "$HUSH_SOCKET", role), from: "$HUSH_SOCKET" };
  return { socket: defaultSocketPath(), from: "the default path" };
}

/**
 * SDK options for a target. `url: ""` stands for "no URL": left undefined,
 * the SDK would fall back to $HUSH_URL, which an explicit --socket overrides.
 */
export function transportOptions(t: Target, args: TargetArgs): { socket?: string; url: string; socketOwner?: string; tlsPin?: string } {
  return "url" in t
    ? { url: t.url, tlsPin: args["tls-pin"] || undefined }
    : { socket: t.socket, url: "", socketOwner: socketOwner(args), tlsPin: args["tls-pin"] || undefined };
}

/** A signed worker client from the shared --socket / --url / --credential-file args. */
export async function workerClient(args: TargetArgs & { "credential-file"?: string }) {
  const target = resolveTarget(args, "worker");
  const credential = loadCredential(args["credential-file"]);
  const { Client } = await import("../src/client/index.ts");
  // One-shot CLI processes never rotate: the rotated key would die with the process.
  return new Client({ ...transportOptions(target, args), credential, autoRekey: false });
}

/** What admin commands need: a call that returns the answer's JSON. */
export interface AdminCaller {
  call<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * Refuse a URL for a command that would use this machine's admin.sock: an
 * admin command without an admin credential, or `keygen admin` (`mintsAdmin`),
 * which only admin.sock serves.
 */
export function refuseUrlOnAdminSocket(t: Target, mintsAdmin = false): void {
  if (!("url" in t)) return;
  const local = t.from === "--url" ? "leave out --url" : "unset HUSH_URL or pass --socket PATH";
  if (mintsAdmin) {
    throw new UsageError(`${t.from} is set to ${t.url}, but \`hush keygen admin\` works only on this machine's admin.sock`, `run it on the controller's host; there, ${local}`);
  }
  throw new UsageError(
    `${t.from} is set to ${t.url}, but admin commands reach a controller's URL only with an admin credential (without one they use this machine's admin.sock)`,
    `pass --admin-credential-file FILE or set HUSH_ADMIN_CREDENTIAL (from \`hush keygen admin\` on the controller); for this machine's daemon, ${local}`,
  );
}

/**
 * The admin socket (the OS user is the admin), or signed requests with an
 * admin credential when one is given, on hush.sock or a controller's URL.
 */
export async function adminClient(args: TargetArgs & { "admin-credential-file"?: string }): Promise<AdminCaller> {
  const target = resolveTarget(args, "admin");
  const credential = readAdminCredential(args);
  const { AdminClient, Client } = await import("../src/client/index.ts");
  if (credential !== undefined) return adminCredentialHints(new Client({ ...transportOptions(target, args), credential, autoRekey: false }));
  refuseUrlOnAdminSocket(target);
  return new AdminClient({ socket: (target as { socket: string }).socket, socketOwner: socketOwner(args) });
}

/** An admin credential refused by the daemon gets the admin's remedy, not the worker's. */
function adminCredentialHints(c: AdminCaller): AdminCaller {
  return {
    async call(method, path, body) {
      try {
        return await c.call(method, path, body);
      } catch (e) {
        if (e instanceof HushError && e.code === "auth_failed" && !e.detail.pinMismatch && !e.detail.untrustedSocket && !e.detail.hint) {
          throw new HushError(e.code, e.message, {
            ...e.detail,
            hint: "the admin credential may be revoked, expired or for another daemon: make a new one with `hush keygen admin` on the daemon's host",
          });
        }
        throw e;
      }
    },
  };
}

/** The admin socket path of a socket target (for commands that only use admin.sock). */
export function adminSocketOf(t: Target): string {
  return adminSocketPath((t as { socket: string }).socket);
}
