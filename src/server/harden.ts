/**
 * Linux process hardening for the daemon, through `bun:ffi` on libc. Keeps
 * secrets inside this process (DESIGN.md invariants 1–3):
 * - `prctl(PR_SET_DUMPABLE, 0)` (prctl(2)): other processes of the same uid
 *   can no longer ptrace us or read `/proc/PID/mem` or `/proc/PID/environ`
 *   (the kernel makes those files root-owned and refuses the access check);
 * - `setrlimit(RLIMIT_CORE, {0, 0})` (setrlimit(2)): no core file, ever;
 * - `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)` (mlock(2)): pages are
 *   locked as first touched, so secrets are not swapped out. Never without
 *   MCL_ONFAULT: Bun reserves ~6.4 GB and locking it all takes ~20 s as root
 *   (BUN-NOTES.md). Fails without CAP_IPC_LOCK: a warning, not an error;
 * - `umask(077)`: whatever the daemon creates is owner-only.
 * On another platform, or when libc cannot be opened, nothing is changed
 * and the report says why. Never throws.
 * @module
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

export interface HardenReport {
  /** True when `PR_SET_DUMPABLE 0` was applied. */
  dumpable: boolean;
  /** True when the core-file limit is now 0 (soft and hard). */
  coreLimit: boolean;
  /** "unavailable": not attempted (not Linux, no libc, or `mlock: false`). */
  mlock: "ok" | "unavailable" | "failed";
  /** True when the umask is now 077. */
  umask: boolean;
  /** One human-readable line per thing that could not be applied. */
  warnings: string[];
}

export interface HardenOptions {
  /** Lock memory with mlockall (default true). */
  mlock?: boolean;
}

/** <sys/prctl.h> */
const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
/** <sys/resource.h>: the same number on x86_64 and aarch64. */
const RLIMIT_CORE = 4;
/** <sys/mman.h>: MCL_CURRENT 1 | MCL_FUTURE 2 | MCL_ONFAULT 4 (Linux ≥ 4.4). Never 3. */
export const MLOCKALL_FLAGS = 1 | 2 | 4;

/** glibc first, then musl (Alpine names it by architecture), then the generic name. */
const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"];

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 11: "EAGAIN", 12: "ENOMEM", 22: "EINVAL", 38: "ENOSYS" };

const SYMBOLS = {
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  mlockall: { args: [FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const;

type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];

/** Open libc under the first name that loads; null when none does. */
function _openLibc(): Libc | null {
  for (const name of LIBC_NAMES) {
    try {
      return dlopen(name, SYMBOLS).symbols;
    } catch {
      // try the next name
    }
  }
  return null;
}

/** The calling thread's errno as a name ("ENOMEM") or "errno N"; "unknown errno" if unreadable. */
function _errnoName(libc: Libc): string {
  try {
    const p = libc.__errno_location() as Pointer | null;
    if (!p) return "unknown errno";
    const n = read.i32(p, 0);
    return ERRNO_NAMES[n] ?? `errno ${n}`;
  } catch {
    return "unknown errno";
  }
}

/** Run one step; an exception (a missing symbol, an FFI failure) becomes a warning. */
function _step(warnings: string[], what: string, fn: () => boolean): boolean {
  try {
    return fn();
  } catch (e) {
    warnings.push(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/**
 * Harden the current process (call once, at daemon start, before any
 * secret is loaded). Returns what was applied; never throws.
 */
export function hardenProcess(opts: HardenOptions = {}): HardenReport {
  const wantMlock = opts.mlock ?? true;
  const report: HardenReport = { dumpable: false, coreLimit: false, mlock: "unavailable", umask: false, warnings: [] };
  if (process.platform !== "linux") {
    report.warnings.push(`process hardening is implemented for Linux only (platform ${process.platform}): core dumps, ptrace and swapping are not prevented`);
    return report;
  }
  const libc = _openLibc();
  if (!libc) {
    report.warnings.push(`process hardening skipped: cannot open libc (tried ${LIBC_NAMES.join(", ")})`);
    return report;
  }
  const w = report.warnings;

  report.dumpable = _step(w, "prctl(PR_SET_DUMPABLE, 0)", () => {
    if (libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) {
      w.push(`prctl(PR_SET_DUMPABLE, 0) failed (${_errnoName(libc)}): same-uid processes can read this process's memory`);
      return false;
    }
    return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) === 0;
  });

  report.coreLimit = _step(w, "setrlimit(RLIMIT_CORE, 0)", () => {
    const lim = new BigUint64Array(2); // struct rlimit { rlim_t rlim_cur, rlim_max } = {0, 0}
    if (libc.setrlimit(RLIMIT_CORE, lim) !== 0) {
      w.push(`setrlimit(RLIMIT_CORE, 0) failed (${_errnoName(libc)}): a crash may write a core file`);
      return false;
    }
    lim.fill(1n);
    return libc.getrlimit(RLIMIT_CORE, lim) === 0 && lim[0] === 0n && lim[1] === 0n;
  });

  if (wantMlock) {
    const ok = _step(w, "mlockall", () => {
      if (libc.mlockall(MLOCKALL_FLAGS) === 0) return true;
      const err = _errnoName(libc);
      const hint = err === "EINVAL" ? "the kernel may lack MCL_ONFAULT (Linux < 4.4)" : "needs CAP_IPC_LOCK or a larger memlock limit (ulimit -l unlimited / LimitMEMLOCK=infinity)";
      w.push(`mlockall failed (${err}): memory may be swapped to disk; ${hint}; --no-mlock silences this`);
      return false;
    });
    report.mlock = ok ? "ok" : "failed";
  }

  report.umask = _step(w, "umask(077)", () => {
    process.umask(0o077);
    return process.umask() === 0o077;
  });
  return report;
}
