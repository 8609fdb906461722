/**
 * The C library through `bun:ffi`, for the few system calls Bun does not
 * expose: prctl, setrlimit, mlockall (src/os/harden.ts) and flock
 * (src/os/lock.ts). One place knows the library's file name on each
 * platform (glibc, musl on Alpine, macOS's libSystem) and how to read the
 * calling thread's errno there. Works inside a compiled binary.
 * @module
 */
import { dlopen, FFIType, read, type ConvertFns, type Pointer, type Symbols } from "bun:ffi";

/**
 * Library names tried in order: glibc first, then musl (named by
 * architecture on Alpine), then the generic name; on macOS the system library.
 */
export const LIBC_NAMES: readonly string[] =
  process.platform === "darwin"
    ? ["libSystem.B.dylib", "/usr/lib/libSystem.B.dylib", "libc.dylib"]
    : ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

/** The per-thread errno accessor: `int *__errno_location(void)` (glibc, musl), `int *__error(void)` (macOS). */
const ERRNO_SYMBOL = process.platform === "darwin" ? "__error" : "__errno_location";

/** errno values hush reports by name (EWOULDBLOCK is EAGAIN on both: 11 on Linux, 35 on macOS). */
const ERRNO_NAMES: Record<string, Record<number, string>> = {
  linux: { 1: "EPERM", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 22: "EINVAL", 37: "ENOLCK", 38: "ENOSYS", 95: "EOPNOTSUPP" },
  darwin: { 1: "EPERM", 4: "EINTR", 9: "EBADF", 12: "ENOMEM", 13: "EACCES", 22: "EINVAL", 35: "EAGAIN", 45: "EOPNOTSUPP", 77: "ENOLCK", 78: "ENOSYS" },
};

export interface Libc<S extends Symbols> {
  /** The functions asked for. */
  fn: ConvertFns<S>;
  /** The library name that loaded. */
  name: string;
  /** The calling thread's errno by name ("ENOMEM"), "errno N", or "unknown errno" if unreadable. */
  errno(): string;
}

/**
 * Open libc with `symbols` under the first name that loads.
 * Returns null when none does (another platform, a missing symbol).
 */
export function openLibc<S extends Symbols>(symbols: S): Libc<S> | null {
  const all = { ...symbols, [ERRNO_SYMBOL]: { args: [], returns: FFIType.ptr } } as S;
  for (const name of LIBC_NAMES) {
    let lib;
    try {
      lib = dlopen(name, all);
    } catch {
      continue; // try the next name
    }
    const errnoPtr = (lib.symbols as any)[ERRNO_SYMBOL] as () => Pointer | null;
    return { fn: lib.symbols, name, errno: () => _errnoName(errnoPtr) };
  }
  return null;
}

function _errnoName(errnoPtr: () => Pointer | null): string {
  try {
    const p = errnoPtr();
    if (!p) return "unknown errno";
    const n = read.i32(p, 0);
    return ERRNO_NAMES[process.platform]?.[n] ?? `errno ${n}`;
  } catch {
    return "unknown errno";
  }
}
