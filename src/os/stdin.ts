/**
 * Is something waiting on standard input? For commands that read a value
 * from a file instead (`--value-file`): a value piped in as well would be
 * ignored without a word, so they refuse it. Nothing is read: a regular
 * file is asked for its size past the current offset; a pipe, FIFO or
 * socket is polled (poll(2), waiting at most `waitMs` for a writer that has
 * just started) and asked how many bytes it holds (FIONREAD). A terminal,
 * `/dev/null` or a closed descriptor holds nothing. A writer slower than
 * `waitMs` is not seen: the answer is about input already there.
 * @module
 */
import { fstatSync } from "node:fs";
import { FFIType, ptr } from "bun:ffi";
import { openLibc } from "./libc.ts";

/** <poll.h> POLLIN, and FIONREAD from <sys/ioctl.h> (Linux; macOS). */
const POLLIN = 1;
const FIONREAD = process.platform === "darwin" ? 0x4004667f : 0x541b;

const SYMBOLS = {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
} as const;

let libc: ReturnType<typeof openLibc<typeof SYMBOLS>> | undefined;

/** Bytes waiting on descriptor `fd` (a pipe, FIFO or socket), after waiting up to `waitMs` for any. */
function pending(fd: number, waitMs: number): number {
  libc ??= openLibc(SYMBOLS);
  if (!libc) return 0;
  const pfd = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
  const view = new DataView(pfd.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  if (libc.fn.poll(ptr(pfd), 1, waitMs) <= 0) return 0; // nothing yet (or an error)
  const n = new Int32Array(1);
  return libc.fn.ioctl(fd, FIONREAD, ptr(n)) === 0 ? n[0] : 0;
}

/** Does standard input (fd 0) already hold input? */
export function stdinHasInput(waitMs = 50): boolean {
  let st;
  try {
    st = fstatSync(0);
  } catch {
    return false; // closed
  }
  if (st.isFile()) return st.size > 0; // `< file`: its offset is 0 for a fresh redirection
  if (st.isFIFO() || st.isSocket()) return pending(0, waitMs) > 0;
  return false; // a terminal, /dev/null, another device
}
