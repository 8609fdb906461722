/**
 * Unix socket placement (DESIGN.md invariant 5): the directory is 0700 and
 * owned by us, each socket is 0600 from the moment it exists (the umask is
 * 077 while it is created), a live socket is never stolen and a stale one is
 * reclaimed. Who owns the socket paths is decided by the daemon lock
 * (src/os/lock.ts), never by whether a connect succeeds: a frozen
 * daemon with a full accept queue refuses connections but is not dead. A
 * daemon unlinks only the socket files it bound itself (same device and
 * inode, checked when it unlinks).
 * @module
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { HushError } from "../errors.ts";
import { checkSocketDir } from "../os/socket-trust.ts";
import type { DaemonLock } from "../os/lock.ts";

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
  if (problem) {
    const elsewhere = "choose another place with --socket PATH (a missing directory is created 0700)";
    const mine = st.isDirectory() && !st.isSymbolicLink() && st.uid === uid;
    const hint = mine
      ? `run \`chmod ${groupAccess ? "710" : "700"} ${dir}\` (other users must not reach the sockets), or ${elsewhere}`
      : st.isDirectory() && !st.isSymbolicLink()
        ? elsewhere[0].toUpperCase() + elsewhere.slice(1)
        : `remove it, or ${elsewhere}`;
    throw new HushError("invalid_request", problem, { hint });
  }
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

/**
 * Make `path` free for a new listener. Only a daemon that holds the lock of
 * the socket's directory may call this (`lock` is the proof): the lock being
 * free means the daemon that bound a socket left behind there is dead, so
 * the socket is stale. As a second guard, a socket that still answers a
 * connect (a program that takes no hush lock, or an older hush) is refused.
 * @throws HushError `invalid_request` when the path is not a socket;
 *   `conflict` when something answers on it.
 */
export async function reclaimSocket(path: string, lock: DaemonLock): Promise<"free" | "reclaimed"> {
  if (!lock.held) throw new Error(`reclaimSocket(${path}) without the daemon lock`);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "free";
  }
  if (!st.isSocket()) throw new HushError("invalid_request", `${path} exists and is not a socket; refusing to replace it`);
  await refuseLiveSocket(path);
  unlinkSync(path);
  return "reclaimed";
}

/**
 * Throw HushError `conflict` when something answers on the unix socket at
 * `path` (a program that takes no hush lock, an older hush, or a daemon
 * whose hush.lock was deleted under it). A missing path or another kind of
 * file passes (reclaimSocket judges those).
 */
export async function refuseLiveSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSocket() && (await isSocketLive(path))) {
    throw new HushError("conflict", `another program is listening on ${path} (it holds no hush lock: an older hush, or a daemon whose hush.lock was deleted); refusing to replace it`);
  }
}

/** A socket file this daemon bound: its path and the identity of the file it created. */
export interface BoundSocket {
  path: string;
  dev: number;
  ino: number;
  /** Birth time (ns since the epoch; 0n where the filesystem keeps none): inode numbers are reused, so dev+ino alone can name a successor's socket. */
  born: bigint;
}

/** Record the device, inode and birth time of the socket just bound at `path`. */
export function boundSocket(path: string): BoundSocket {
  const st = lstatSync(path, { bigint: true });
  return { path, dev: Number(st.dev), ino: Number(st.ino), born: st.birthtimeNs };
}

/**
 * Unlink `s.path` only if it is still the file this daemon bound (same
 * device, inode and birth time, checked now: a successor's socket made
 * after ours was unlinked can get our freed inode number). Returns false when the path is gone or
 * now belongs to someone else, which is left alone.
 */
export function unlinkOwnSocket(s: BoundSocket): boolean {
  let st;
  try {
    st = lstatSync(s.path, { bigint: true });
  } catch {
    return false;
  }
  if (!st.isSocket() || Number(st.dev) !== s.dev || Number(st.ino) !== s.ino || st.birthtimeNs !== s.born) return false;
  try {
    unlinkSync(s.path);
    return true;
  } catch {
    return false;
  }
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
