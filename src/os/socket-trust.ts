/**
 * Who may be behind a unix socket path. The daemon and every client apply
 * one rule to the socket's directory: a real directory (never a symlink),
 * owned by the expected uid, with no permission for others and at most
 * traversal for its group (0700 or 0710). A client also wants the socket itself to
 * belong to that uid. Only that uid (or root) can then have put a socket
 * there, so a client never sends a byte to a socket another user planted at
 * the path, such as a squatted `/tmp/hush-<uid>` (SECURITY.md, "Trust
 * boundaries").
 *
 * Check and use are one: on Linux the client opens the directory once
 * (`O_PATH | O_DIRECTORY | O_NOFOLLOW`), checks the open directory with
 * fstat, and connects through `/proc/self/fd/N/<name>`, so the directory it
 * checked is the directory it uses even if the path is renamed or replaced
 * in between. Bun's `fetch({ unix })`, `new WebSocket("ws+unix://…")`,
 * `Bun.connect({ unix })` and node:http's `socketPath` all accept that path.
 * Elsewhere (no /proc, or not Linux) the check is by path: whoever can write
 * the directory's parent could still swap it between the check and the
 * connect.
 * @module
 */
import { closeSync, existsSync, fstatSync, lstatSync, openSync, readFileSync, constants as fsc } from "node:fs";
import { basename, dirname } from "node:path";
import { HushError } from "../errors.ts";

/** What a directory must look like: its owner, and the mode bits it must not have. */
export interface DirRule {
  uid: number;
  /** Mode bits that are refused, e.g. 0o077 (daemon without a group) or 0o067 (daemon with a group, and clients). */
  deny: number;
}

/**
 * The mode bits a client refuses on a socket's directory: everything for
 * others, and everything but traversal for the group. That accepts exactly
 * what the daemon makes (0700, or 0710 with `--socket-group`); it refuses
 * above all a directory others could write (create, rename or delete in).
 */
export const CLIENT_DENY = 0o067;

/** The subset of fs.Stats the checks read. */
interface StatLike {
  uid: number;
  mode: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  isSocket(): boolean;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** The [name, uid] pairs of /etc/passwd (none when it cannot be read). */
function passwd(): [string, number][] {
  let text = "";
  try {
    text = readFileSync("/etc/passwd", "utf8");
  } catch {}
  return text
    .split("\n")
    .map((line) => line.split(":"))
    .filter((f) => f.length > 2 && /^\d+$/.test(f[2]!))
    .map((f) => [f[0]!, Number(f[2])]);
}

/** The name /etc/passwd gives `uid`, if any. */
function userName(uid: number): string | undefined {
  return passwd().find(([, id]) => id === uid)?.[0];
}

/** `uid 65534 (nobody)`, or `you (uid 1000)` for the caller's own uid. */
export function describeUid(uid: number): string {
  if (uid === process.getuid?.()) return `you (uid ${uid})`;
  const n = userName(uid);
  return n ? `uid ${uid} (${n})` : `uid ${uid}`;
}

function ownerText(st: StatLike, uid: number): string {
  return st.uid === uid ? `is owned by ${describeUid(st.uid)}` : `is owned by ${describeUid(st.uid)}, not by ${describeUid(uid)},`;
}

/**
 * What is wrong with a socket directory, from its lstat/fstat, or undefined
 * when it passes. The text names the path, its owner and its mode.
 */
export function checkSocketDir(dir: string, st: StatLike, rule: DirRule): string | undefined {
  if (st.isSymbolicLink()) return `socket directory ${dir} is a symlink (refused: it must be a real directory)`;
  if (!st.isDirectory()) return `socket directory ${dir} is not a directory`;
  const badOwner = st.uid !== rule.uid;
  const loose = st.mode & rule.deny;
  if (!badOwner && !loose) return undefined;
  const modeText = loose ? `, ${loose & 0o022 ? "writable by" : "open to"} group or others` : "";
  return `socket directory ${dir} ${ownerText(st, rule.uid)} and has mode ${octal(st.mode)}${modeText}`;
}

/**
 * The uid a socket must belong to: `spec` (a user name or a numeric uid),
 * else $HUSH_SOCKET_OWNER, else the caller's own uid.
 * Throws HushError `invalid_request` for an unknown user name.
 */
export function resolveSocketOwner(spec?: string | number, env: Record<string, string | undefined> = process.env): number {
  const s = spec ?? env.HUSH_SOCKET_OWNER;
  if (typeof s === "number") {
    if (!Number.isSafeInteger(s) || s < 0) throw new HushError("invalid_request", `socket owner: not a uid: ${s}`);
    return s;
  }
  if (s === undefined || s === "") {
    const uid = process.getuid?.();
    if (uid === undefined) throw new HushError("invalid_request", "unix sockets need a POSIX system (no uid to check the socket's owner against)");
    return uid;
  }
  if (/^\d+$/.test(s)) return Number(s);
  const found = passwd().find(([name]) => name === s);
  if (found) return found[1];
  throw new HushError("invalid_request", `socket owner: no such user in /etc/passwd: ${JSON.stringify(s)} (give a numeric uid instead)`);
}

function refuse(socketPath: string, problem: string): never {
  throw new HushError("auth_failed", `refusing to connect to ${socketPath}: ${problem}; nothing was sent`, { untrustedSocket: true, path: socketPath });
}

/** An fs error that names the path the caller gave (never the /proc path), keeping its `code`. */
function fsError(e: any, path: string): Error {
  const code = typeof e?.code === "string" ? e.code : "EIO";
  return Object.assign(new Error(`${code}: cannot inspect ${path}`), { code });
}

// O_PATH opens a directory for lookups only: no read permission needed, so a
// group member can open a 0710 directory it may only traverse. node:fs has no
// constant for it; its value is 0o10000000 on these architectures (not on
// alpha, parisc or sparc, where the check falls back to paths).
const O_PATH = 0o10000000;
const O_PATH_ARCHES = new Set(["x64", "arm64", "arm", "ia32", "riscv64", "s390x", "ppc64", "loong64"]);
let procFd: boolean | undefined;
function canUseProcFd(): boolean {
  return (procFd ??= process.platform === "linux" && O_PATH_ARCHES.has(process.arch) && existsSync("/proc/self/fd"));
}

/**
 * Directories opened for connecting, by identity (`dev:ino`). They stay open
 * for the life of the process: an fd number is never reused for another
 * directory, because connection pools (Bun's fetch) key idle connections by
 * the path string `/proc/self/fd/N/…`. One fd per distinct directory used.
 * A held fd is used again only while it still is that directory, alive
 * (`_stillHeld`): inode numbers are reused (ext4 hands out a deleted
 * directory's number again), so a matching `dev:ino` alone could lead into
 * a deleted directory that the path no longer reaches. Exported for tests
 * only.
 */
export const _held = new Map<string, number>();

/** The held `fd` is still the directory `id` names, and not deleted (nlink > 0). */
function _stillHeld(fd: number, id: { dev: bigint; ino: bigint }): boolean {
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.nlink > 0n && st.dev === id.dev && st.ino === id.ino;
  } catch {
    return false;
  }
}

/** Open and check the directory; the base path to connect through. */
function openDir(dir: string, socketPath: string, rule: DirRule): string {
  let fd: number;
  try {
    fd = openSync(dir, O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  } catch (e: any) {
    if (e?.code !== "ENOTDIR" && e?.code !== "ELOOP") throw fsError(e, dir);
    let st;
    try {
      st = lstatSync(dir);
    } catch (e2) {
      throw fsError(e2, dir);
    }
    refuse(socketPath, checkSocketDir(dir, st, rule) ?? `socket directory ${dir} is not a directory`);
  }
  const problem = checkSocketDir(dir, fstatSync(fd), rule);
  if (problem) {
    closeSync(fd);
    refuse(socketPath, problem);
  }
  const id = fstatSync(fd, { bigint: true });
  const key = `${id.dev}:${id.ino}`;
  const kept = _held.get(key);
  if (kept !== undefined && _stillHeld(kept, id)) {
    closeSync(fd);
    return `/proc/self/fd/${kept}`;
  }
  // A stale fd stays open (its number must never name another directory: see _held); the fresh one replaces it.
  _held.set(key, fd);
  return `/proc/self/fd/${fd}`;
}

/**
 * Check the unix socket at `socketPath` for a client that expects it to
 * belong to uid `owner`, and return the path to connect to: on Linux
 * `/proc/self/fd/N/<name>`, through the very directory that was checked;
 * elsewhere `socketPath` itself. Nothing is sent here.
 *
 * Throws HushError `auth_failed` with `detail.untrustedSocket` when the
 * directory is a symlink or not a directory, is owned by another uid, or
 * gives others any access or its group more than traversal (CLIENT_DENY), or
 * when the socket is not a socket or belongs to another uid (the message
 * names the path, its owner and mode). Throws an
 * Error with the fs `code` (ENOENT, EACCES, …) when the directory or the
 * socket cannot be looked at.
 */
export function trustSocket(socketPath: string, owner: number): string {
  const dir = dirname(socketPath);
  const rule = { uid: owner, deny: CLIENT_DENY };
  let base: string;
  if (canUseProcFd()) base = openDir(dir, socketPath, rule);
  else {
    let st;
    try {
      st = lstatSync(dir);
    } catch (e) {
      throw fsError(e, dir);
    }
    const problem = checkSocketDir(dir, st, rule);
    if (problem) refuse(socketPath, problem);
    base = dir;
  }
  const path = base === dir ? socketPath : `${base}/${basename(socketPath)}`;
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw fsError(e, socketPath);
  }
  if (!st.isSocket()) refuse(socketPath, `${socketPath} is not a socket`);
  if (st.uid !== owner) refuse(socketPath, `the socket ${ownerText(st, owner)} and has mode ${octal(st.mode)}`);
  return path;
}
