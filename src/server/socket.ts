/**
 * Unix socket placement (DESIGN.md invariant 5): the directory is 0700 and
 * owned by us, each socket is 0600 from the moment it exists (the umask is
 * 077 while it is created), a live socket is never stolen and a stale one
 * (nothing answers) is reclaimed.
 * @module
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { HushError } from "../errors.ts";
import { checkSocketDir } from "../os/socket-trust.ts";

/** Create the socket directory 0700, or check that an existing one is ours and private (a symlink is refused). */
export function prepareSocketDir(dir: string, groupAccess = false): void {
  const uid = process.getuid!();
  let st;
  try {
    st = lstatSync(dir);
  } catch (e: any) {
    if (e?.code !== "ENOENT") throw new HushError("invalid_request", `cannot inspect socket directory ${dir}: ${e?.code ?? e}`);
    const old = process.umask(0o077);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e2: any) {
      throw new HushError("invalid_request", `cannot create socket directory ${dir}: ${e2?.code ?? e2}`);
    } finally {
      process.umask(old);
    }
    st = lstatSync(dir);
  }
  // The rule clients check too (src/os/socket-trust.ts), stricter: nothing for others, group traversal only with a group.
  const problem = checkSocketDir(dir, st, { uid, deny: groupAccess ? 0o067 : 0o077 });
  if (problem) throw new HushError("invalid_request", problem);
}

/** True when something accepts connections on the unix socket at `path`. */
export function isSocketLive(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** Refuse a live socket; unlink a stale one. */
export async function reclaimSocket(path: string): Promise<"free" | "reclaimed"> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "free";
  }
  if (!st.isSocket()) throw new HushError("invalid_request", `${path} exists and is not a socket; refusing to replace it`);
  if (await isSocketLive(path)) throw new HushError("conflict", `another daemon is already listening on ${path}`);
  unlinkSync(path);
  return "reclaimed";
}

/** Run `listen` with umask 0177 so each socket is born 0600: never reachable with looser permissions. */
export function withPrivateUmask<T>(listen: () => T): T {
  const old = process.umask(0o177);
  try {
    return listen();
  } finally {
    process.umask(old);
  }
}

/** Resolve a group name (or numeric id) from /etc/group. */
export function lookupGroup(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
    const [n, , gid] = line.split(":");
    if (n === name) return Number(gid);
  }
  throw new HushError("invalid_request", `no such group: ${name}`);
}

/** Open the worker socket (and its directory, for traversal) to a group. */
export function openToGroup(socketPath: string, gid: number, mode: number): void {
  chownSync(dirname(socketPath), process.getuid!(), gid);
  chmodSync(dirname(socketPath), 0o710);
  chownSync(socketPath, process.getuid!(), gid);
  chmodSync(socketPath, mode);
}

export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
