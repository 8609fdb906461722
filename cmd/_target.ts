/**
 * Which daemon a command talks to, decided in one place for every command:
 *
 *   1. `--url LIST` or `--socket PATH` (both at once is an error: two daemons);
 *   2. `$HUSH_URL`, then `$HUSH_SOCKET`;
 *   3. the `# addresses:` line of the credential or token file the command uses;
 *   4. the default socket path (README "Where the socket lives").
 *
 * A URL is a list of one or more daemon addresses, comma-separated
 * (src/client/addresses.ts): the SDK moves to the next only when a daemon
 * cannot be reached (nothing was sent), docs/CLUSTER.md §10.
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
import { loadWorkerKey, readAdminCredential } from "./_credentials.ts";
import { keyFileAddresses, parseKeyFile } from "../src/keys/index.ts";
import { MAX_ADDRESSES } from "../src/client/addresses.ts";
import { notSent } from "../src/client/failover.ts";
import type { Client } from "../src/client/index.ts";
import { UsageError } from "./_report.ts";
import { socketOwner } from "./_shared.ts";

export interface TargetArgs {
  socket?: string;
  "socket-owner"?: string;
  url?: string;
  "tls-pin"?: string;
}

/**
 * Where requests go: one or several daemon addresses (a comma-separated
 * list, src/client/addresses.ts), or a socket path (hush.sock), and which
 * flag, variable or file said so.
 */
export type Target = { url: string; from: string } | { socket: string; from: "--socket" | "$HUSH_SOCKET" | "the default path" };

/** A key's text (a whole key file, or a bare string) and where it came from, for its `# addresses:` line. */
export interface KeyText {
  text: string;
  from: string;
}

/**
 * Check one controller URL: http(s)://HOST[:PORT], nothing after the port.
 * A path, query or user name would be dropped without a word otherwise.
 */
function checkOneUrl(url: string, from: string): string {
  if (url.startsWith("unix:")) {
    if (!url.startsWith("unix:/")) throw new UsageError(`${from}: a unix address is unix:/ABSOLUTE/PATH/hush.sock`, `e.g. unix:/run/hush/hush.sock`);
    return url;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${from} is not a URL`, "expected https://HOST:PORT (the address `hush serve --listen` printed), or a comma-separated list of them");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw new UsageError(`${from} must start with https:// (or http:// to a loopback address, or unix:/PATH)`, "expected https://HOST:PORT");
  const extra = [u.pathname !== "/" && u.pathname !== "" && "a path", u.search && "a query", u.hash && "a fragment", (u.username || u.password) && "a user name or password"].filter(Boolean);
  if (extra.length) {
    throw new UsageError(`${from} has ${extra.join(" and ")}; a controller URL is only ${u.protocol}//HOST:PORT`, `use ${u.protocol}//${u.host}`);
  }
  return `${u.protocol}//${u.host}`;
}

/**
 * Check a daemon address list (`https://A:8443,https://B:8443`; one address
 * is a list of one) and return it in canonical form. Each address is
 * https://HOST:PORT, http://LOOPBACK:PORT or unix:/PATH.
 */
export function checkUrl(list: string, from: string): string {
  const parts = list.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) throw new UsageError(`${from} has an empty address`, "separate addresses with single commas: https://A:8443,https://B:8443");
  if (parts.length > MAX_ADDRESSES) throw new UsageError(`${from} lists ${parts.length} addresses; at most ${MAX_ADDRESSES}`);
  const out = parts.map((p) => checkOneUrl(p, from));
  const twice = out.find((a, i) => out.indexOf(a) !== i);
  if (twice) throw new UsageError(`${from} names ${twice} twice`, "list each daemon once");
  return out.join(",");
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

/**
 * The target of a command with --socket and (maybe) --url, checked. `key`:
 * the credential or token the command uses; its `# addresses:` line is the
 * target when no flag or variable names one (before the default path).
 */
export function resolveTarget(args: TargetArgs, role: Role, key?: KeyText): Target {
  if (args.url && args.socket) throw new UsageError("--url and --socket name two different daemons", "pass one of them");
  if (args.url) return { url: checkUrl(args.url, "--url"), from: "--url" };
  if (args.socket) return { socket: checkSocket(args.socket, "--socket", role), from: "--socket" };
  if (process.env.HUSH_URL) return { url: checkUrl(process.env.HUSH_URL, "$HUSH_URL"), from: "$HUSH_URL" };
  if (process.env.HUSH_SOCKET) return { socket: checkSocket(process.env.HUSH_SOCKET, "$HUSH_SOCKET", role), from: "$HUSH_SOCKET" };
  const listed = key && keyFileAddresses(key.text);
  if (listed) {
    const from = `the # addresses line of ${key.from}`;
    return { url: checkUrl(listed, from), from };
  }
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

/**
 * A command's target and how to reach it: `client()` for the whole target
 * (several addresses fail over inside the SDK), `client(one)` for one
 * address of a URL list only, with that many connection retries.
 */
export interface Reach<C> {
  target: Target;
  /** The daemons as messages name them: the list's addresses, or the socket actually used. */
  addresses: string[];
  client(one?: { address: string; retries: number }): Promise<C>;
}

/** The daemons of a target as messages name them: a URL list's addresses, or the socket path. */
export function targetAddresses(t: Target): string[] {
  return "url" in t ? t.url.split(",") : [t.socket];
}

/** SDK options for the whole target, or for `one` address of its list. */
function reachOptions(target: Target, args: TargetArgs, one?: { address: string; retries: number }) {
  return one ? { ...transportOptions({ url: one.address, from: target.from }, args), retries: one.retries } : transportOptions(target, args);
}

/** The target of the shared --socket / --url / --credential-file args, and signed worker clients for it. */
export function workerReach(args: TargetArgs & { "credential-file"?: string }): Reach<Client> {
  const key = loadWorkerKey(args["credential-file"]);
  const target = resolveTarget(args, "worker", key);
  const credential = parseKeyFile(key.text);
  return {
    target,
    addresses: targetAddresses(target),
    async client(one) {
      const { Client } = await import("../src/client/index.ts");
      // One-shot CLI processes never rotate: the rotated key would die with the process.
      return new Client({ ...reachOptions(target, args, one), credential, autoRekey: false });
    },
  };
}

/** A signed worker client from the shared --socket / --url / --credential-file args. */
export async function workerClient(args: TargetArgs & { "credential-file"?: string }): Promise<Client> {
  return workerReach(args).client();
}

/**
 * Ask the daemons of `reach` in turn, the way the SDK fails over
 * (docs/CLUSTER.md §10), so the command can say which one answered: the
 * next address is tried only when the request was not sent (src/client/
 * failover.ts `notSent`). Any other error is thrown as it is; when no
 * daemon can be reached, HushError `unavailable` (detail `connect`) names
 * each. `where`: the address that answered; `down`: those passed over.
 */
export async function askInTurn<C, T>(reach: Reach<C>, ask: (c: C) => Promise<T>): Promise<{ where: string; answer: T; down: string[] }> {
  const list = reach.addresses;
  if (!("url" in reach.target) || list.length === 1) return { where: list[0]!, answer: await ask(await reach.client()), down: [] };
  const errors: string[] = [];
  for (const [i, address] of list.entries()) {
    try {
      // Like the failover transport's members: one try each, the last with the usual retries.
      return { where: address, answer: await ask(await reach.client({ address, retries: i === list.length - 1 ? 5 : 0 })), down: list.slice(0, i) };
    } catch (e) {
      if (!notSent(e)) throw e;
      errors.push(e.message);
    }
  }
  throw new HushError("unavailable", `cannot reach any of the ${list.length} hush daemons (${errors.join("; ")})`, { connect: true, sent: false });
}

/** What admin commands need: a call that returns the answer's JSON. */
export interface AdminCaller {
  call<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * Refuse a URL for a command that would use this machine's admin.sock: an
 * admin command without an admin credential, or `keygen admin` (`mintsAdmin`),
 * which only admin.sock serves. A list of `unix:` addresses names sockets,
 * not a controller: the message says so and points at `--socket`.
 */
export function refuseUrlOnAdminSocket(t: Target, mintsAdmin = false): void {
  if (!("url" in t)) return;
  const list = t.url.split(",");
  if (list.every((a) => a.startsWith("unix:"))) return refuseSockets(t, list.map((a) => a.slice(5)), mintsAdmin);
  const local = t.from === "--url" ? "leave out --url" : "unset HUSH_URL or pass --socket PATH";
  if (mintsAdmin) {
    throw new UsageError(`${t.from} is set to ${t.url}, but \`hush keygen admin\` works only on this machine's admin.sock`, `run it on the controller's host; there, ${local}`);
  }
  throw new UsageError(
    `${t.from} is set to ${t.url}, but admin commands reach a controller's URL only with an admin credential (without one they use this machine's admin.sock)`,
    `pass --admin-credential-file FILE or set HUSH_ADMIN_CREDENTIAL (from \`hush keygen admin\` on the controller); for this machine's daemon, ${local}`,
  );
}

/** `refuseUrlOnAdminSocket` for `unix:` addresses: name the socket paths, and the --socket that reaches their admin.sock. */
function refuseSockets(t: { url: string; from: string }, paths: string[], mintsAdmin: boolean): never {
  const named = paths.length === 1 ? `the socket ${paths[0]}` : `the sockets ${paths.join(", ")}`;
  const flag = `--socket ${paths.length === 1 ? paths[0] : "PATH (one of them)"}`;
  const use = `${t.from === "--url" ? `pass ${flag} instead of --url` : `pass ${flag} (it beats $HUSH_URL)`}: the command then uses the admin.sock beside it`;
  if (mintsAdmin) throw new UsageError(`${t.from} is set to ${t.url} (${named}), but \`hush keygen admin\` works only on a daemon's admin.sock`, use);
  throw new UsageError(
    `${t.from} is set to ${t.url} (${named}), but admin commands use an address list only with an admin credential (without one they use the owner-only admin.sock beside --socket or $HUSH_SOCKET)`,
    `${use}; or pass --admin-credential-file FILE or set HUSH_ADMIN_CREDENTIAL (from \`hush keygen admin\`)`,
  );
}

/**
 * The admin socket (the OS user is the admin), or signed requests with an
 * admin credential when one is given, on hush.sock or a controller's URL.
 */
export async function adminClient(args: TargetArgs & { "admin-credential-file"?: string }): Promise<AdminCaller> {
  return adminReach(args).client();
}

/** The target of an admin command and its clients (`adminClient`); a URL without an admin credential is refused here. */
export function adminReach(args: TargetArgs & { "admin-credential-file"?: string }): Reach<AdminCaller> {
  const credential = readAdminCredential(args);
  const target = resolveTarget(args, "admin", credential === undefined ? undefined : { text: credential, from: args["admin-credential-file"] ? `--admin-credential-file ${args["admin-credential-file"]}` : "$HUSH_ADMIN_CREDENTIAL" });
  if (credential === undefined) {
    refuseUrlOnAdminSocket(target);
    const socket = (target as { socket: string }).socket;
    return {
      target,
      addresses: [adminSocketPath(socket)],
      async client() {
        const { AdminClient } = await import("../src/client/index.ts");
        return new AdminClient({ socket, socketOwner: socketOwner(args) });
      },
    };
  }
  return {
    target,
    addresses: targetAddresses(target),
    async client(one) {
      const { Client } = await import("../src/client/index.ts");
      return adminCredentialHints(new Client({ ...reachOptions(target, args, one), credential, autoRekey: false }));
    },
  };
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

/**
 * The checked `--addresses` list of a command that writes a token or
 * credential file, or undefined. It is written into the `--out` file only,
 * so it needs `--out` (UsageError otherwise).
 */
export function outAddresses(args: { addresses?: string; out?: string }): string | undefined {
  if (args.addresses === undefined) return undefined;
  if (!args.out) throw new UsageError("--addresses is written into the file: it needs --out FILE", "add --out FILE (a bare string on stdout has no room for addresses)");
  return checkUrl(args.addresses, "--addresses");
}
