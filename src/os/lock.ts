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
 * of this process can drop it. The file holds the holder's pid, for error
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
  for (let attempt = 0; attempt < 3; attempt++) {
    if (lib.fn.flock(fd, LOCK_EX | LOCK_NB) === 0) return;
    const err = lib.errno();
    if (err === "EINTR") continue;
    if (err === "EAGAIN") {
      const pid = _holderPid(fd);
      throw new HushError("conflict", `another hush daemon${pid ? ` (pid ${pid})` : ""} is running or still shutting down on ${join(path, "..")}: it holds ${path}`, {
        hint: `stop it first (kill -TERM ${pid ?? "PID"}) and wait until it has exited, or give this daemon another --socket directory`,
      });
    }
    throw new HushError("unavailable", `cannot lock ${path}: flock failed (${err})`);
  }
  throw new HushError("unavailable", `cannot lock ${path}: flock interrupted`);
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
