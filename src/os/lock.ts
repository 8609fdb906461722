/**
 * The daemon lock (DESIGN.md invariant 5): one exclusive advisory lock,
 * flock(2) `LOCK_EX | LOCK_NB`, on `hush.lock` in the socket directory,
 * held from before the daemon touches its sockets (or its audit file) until
 * it has unlinked them. It decides who owns the socket paths:
 * - a second daemon on the same directory is refused while the lock is
 *   held — also while the first is frozen (SIGSTOP, a blocked event loop,
 *   a full accept queue) or still draining after SIGTERM;
 * - a socket left behind is reclaimed only when the lock is free, that is
 *   when its daemon has died (the kernel drops a flock when the last file
 *   descriptor of its open file description closes, whatever the death).
 * The lock is on the open file description, so it is not shared with an
 * `exec:` child (the descriptor is close-on-exec) and no other descriptor
 * of this process can drop it. The same kind of lock (`tryLockFile`) keeps
 * a second daemon off the audit file and the audit sealing state, which
 * may sit anywhere, not in the socket directory. The file holds the holder's pid, for error
 * messages only, and is never unlinked: unlinking a lock file lets two
 * daemons hold locks on two different files of the same name.
 * @module
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync, constants as fsc } from "node:fs";
import { join } from "node:path";
import { FFIType } from "bun:ffi";
import { HushError } from "../errors.ts";
import { openLibc } from "./libc.ts";

/** The lock file's name inside the socket directory. */
export const LOCK_FILE = "hush.lock";

/** <sys/file.h>: the same on Linux and macOS. */
const LOCK_EX = 2;
const LOCK_NB = 4;

const SYMBOLS = { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } } as const;

export interface DaemonLock {
  /** The lock file, `<socket dir>/hush.lock`. */
  path: string;
  /** True until release(). */
  readonly held: boolean;
  /** Drop the lock (close the descriptor). Idempotent. */
  release(): void;
}

let libc: ReturnType<typeof openLibc<typeof SYMBOLS>> | undefined;

/**
 * Take the daemon lock of socket directory `dir` (already checked by
 * prepareSocketDir) without waiting.
 * @throws HushError `conflict` when another process holds it (names its pid);
 *   `invalid_request` when the lock file is not ours or not a regular file;
 *   `unavailable` when flock(2) cannot be called on this platform or fails.
 */
export function lockSocketDir(dir: string): DaemonLock {
  const path = join(dir, LOCK_FILE);
  libc ??= openLibc(SYMBOLS);
  if (!libc) throw new HushError("unavailable", `cannot lock ${path}: flock(2) is not reachable on this platform (${process.platform})`);
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  } catch (e: any) {
    const why = e?.code === "ELOOP" ? "it is a symbolic link" : (e?.code ?? String(e));
    throw new HushError("invalid_request", `cannot open the daemon lock ${path}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new HushError("invalid_request", `the daemon lock ${path} is not a regular file`);
    if (st.uid !== process.getuid!()) throw new HushError("invalid_request", `the daemon lock ${path} is owned by uid ${st.uid}, not by you (uid ${process.getuid!()})`);
    _flock(libc, fd, path);
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let held = true;
  return {
    path,
    get held() {
      return held;
    },
    release() {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

function _flock(lib: NonNullable<typeof libc>, fd: number, path: string): void {
  if (_tryFlock(lib, fd, path)) return;
  const pid = _holderPid(fd) ?? flockHolderPid(fd);
  throw new HushError("conflict", `another hush daemon${pid ? ` (pid ${pid})` : ""} is running or still shutting down on ${join(path, "..")}: it holds ${path}`, {
    hint: `stop it first (kill -TERM ${pid ?? "PID"}) and wait until it has exited, or give this daemon another --socket directory`,
  });
}

/** flock(fd, LOCK_EX | LOCK_NB): true when taken, false when another open file description holds it. */
function _tryFlock(lib: NonNullable<typeof libc>, fd: number, path: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (lib.fn.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
    const err = lib.errno();
    if (err === "EINTR") continue;
    if (err === "EAGAIN") return false;
    throw new HushError("unavailable", `cannot lock ${path}: flock failed (${err})`);
  }
  throw new HushError("unavailable", `cannot lock ${path}: flock interrupted`);
}

/**
 * Take an exclusive flock(2) on the file open at `fd` (`path` names it in
 * errors) without waiting; it lasts until the descriptor is closed, like the
 * daemon lock. Used for the files one daemon must own alone: the audit file
 * and the audit sealing state (src/audit).
 * Returns false when another open file description holds a lock on the file
 * (see flockHolderPid for who).
 * @throws HushError `unavailable` when flock(2) cannot be called or fails.
 */
export function tryLockFile(fd: number, path: string): boolean {
  libc ??= openLibc(SYMBOLS);
  if (!libc) throw new HushError("unavailable", `cannot lock ${path}: flock(2) is not reachable on this platform (${process.platform})`);
  return _tryFlock(libc, fd, path);
}

/**
 * The pid of the process that holds a flock(2) on the file open at `fd`,
 * from /proc/locks (Linux; matched by device and inode). Undefined when it
 * cannot be told (another platform, or the lock was dropped meanwhile).
 */
export function flockHolderPid(fd: number): number | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const st = fstatSync(fd, { bigint: true });
    const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
    const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
    for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
      const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
      if (m && BigInt(m[4]) === st.ino && Number.parseInt(m[2], 16) === major && Number.parseInt(m[3], 16) === minor) return Number(m[1]);
    }
  } catch {}
  return undefined;
}

/** The pid the holder wrote, if it reads as one (through our own descriptor: no second open). */
function _holderPid(fd: number): number | undefined {
  try {
    const n = Number(readFileSync(fd, "utf8").trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
