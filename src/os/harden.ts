/**
 * Linux process hardening, through `bun:ffi` on libc. Keeps secrets inside
 * this process (DESIGN.md invariants 1–3). The daemon (`hush serve`, the
 * private daemon of `hush run`) applies all of it; every other hush command
 * (`hardenCli`) the first two, before it reads any secret, so that a command
 * it starts (`hush join -- CMD`, `hush checkout NAME -- CMD`), or any other
 * process of the same uid, cannot read the join token, credential or value
 * it holds while it waits:
 * - `prctl(PR_SET_DUMPABLE, 0)` (prctl(2)): other processes of the same uid
 *   can no longer ptrace us or read `/proc/PID/mem` or `/proc/PID/environ`
 *   (the kernel makes those files root-owned and refuses the access check);
 * - `setrlimit(RLIMIT_CORE, {0, 0})` (setrlimit(2)): no core file, ever;
 * - `mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)` (mlock(2)): pages are
 *   locked as first touched, so secrets are not swapped out. Never without
 *   MCL_ONFAULT: Bun reserves ~6.4 GB and locking it all takes ~20 s as root
 *   (BUN-NOTES.md). Fails without CAP_IPC_LOCK: a warning, not an error;
 * - `umask(077)`: whatever the daemon creates is owner-only;
 * - `scrubEnviron`: hush's secret variables are overwritten with zeros in
 *   the process's original environment block, the memory that
 *   `/proc/PID/environ` and `ps e` read (Bun copies the environment at start,
 *   so `process.env` keeps them; `delete process.env.X` changes neither).
 * On another platform, or when libc cannot be opened, nothing is changed
 * and the report says why. Never throws.
 * @module
 */
import { FFIType, toArrayBuffer } from "bun:ffi";
import { LIBC_NAMES, openLibc } from "./libc.ts";

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
  /**
   * Set only the soft core-file limit to 0 and keep the hard one, so that
   * withCallerLimits can give a child command the caller's limit back
   * (`hush run`). Default false: soft and hard 0, for good (`hush serve`).
   */
  keepCoreHardLimit?: boolean;
  /** Set the umask to 077 (default true; the CLI keeps the caller's). */
  umask?: boolean;
}

/** <sys/prctl.h> */
const PR_SET_DUMPABLE = 4;
const PR_GET_DUMPABLE = 3;
/** <sys/resource.h>: the same number on x86_64 and aarch64. */
const RLIMIT_CORE = 4;
/** <sys/mman.h>: MCL_CURRENT 1 | MCL_FUTURE 2 | MCL_ONFAULT 4 (Linux ≥ 4.4). Never 3. */
export const MLOCKALL_FLAGS = 1 | 2 | 4;

type LibcFns = NonNullable<ReturnType<typeof openLibc<typeof SYMBOLS>>>;

/** libc, and the caller's umask and soft core limit, kept by hardenProcess for withCallerLimits. */
let _lib: LibcFns | undefined;
let _caller: { umask?: number; coreSoft?: bigint } = {};

const SYMBOLS = {
  getenv: { args: [FFIType.cstring], returns: FFIType.ptr },
  strlen: { args: [FFIType.ptr], returns: FFIType.u64 },
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  mlockall: { args: [FFIType.i32], returns: FFIType.i32 },
} as const;

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
  const lib = (_lib = openLibc(SYMBOLS) ?? undefined);
  if (!lib) {
    report.warnings.push(`process hardening skipped: cannot open libc (tried ${LIBC_NAMES.join(", ")})`);
    return report;
  }
  const w = report.warnings;
  const libc = lib.fn;

  report.dumpable = _step(w, "prctl(PR_SET_DUMPABLE, 0)", () => {
    if (libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) {
      w.push(`prctl(PR_SET_DUMPABLE, 0) failed (${lib.errno()}): same-uid processes can read this process's memory`);
      return false;
    }
    return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) === 0;
  });

  report.coreLimit = _step(w, "setrlimit(RLIMIT_CORE, 0)", () => _limitCore(lib, w, opts.keepCoreHardLimit ?? false));

  if (wantMlock) {
    const ok = _step(w, "mlockall", () => {
      if (libc.mlockall(MLOCKALL_FLAGS) === 0) return true;
      const err = lib.errno();
      const hint = err === "EINVAL" ? "the kernel may lack MCL_ONFAULT (Linux < 4.4)" : "needs CAP_IPC_LOCK or a larger memlock limit (ulimit -l unlimited / LimitMEMLOCK=infinity)";
      w.push(`mlockall failed (${err}): memory may be swapped to disk; ${hint}; --no-mlock silences this`);
      return false;
    });
    report.mlock = ok ? "ok" : "failed";
  }

  if (opts.umask ?? true) {
    report.umask = _step(w, "umask(077)", () => {
      const was = process.umask(0o077);
      _caller.umask ??= was;
      return process.umask() === 0o077;
    });
  }
  return report;
}

/**
 * What every hush command does first (cmd/main.ts), before it reads a
 * secret: not dumpable, no core file (soft limit 0; `withCallerLimits` gives
 * a child command the caller's limit back), and `names` scrubbed from the
 * environment block. The umask and memory locks are left alone. Silent:
 * returns the report for the caller to ignore or show.
 */
export function hardenCli(names: readonly string[]): HardenReport {
  const report = hardenProcess({ mlock: false, keepCoreHardLimit: true, umask: false });
  scrubEnviron(names);
  return report;
}

/**
 * Overwrite the values of `names` with zeros in the environment block the
 * process started with (Linux and other libcs whose `getenv` points into
 * it): `/proc/PID/environ` (readable by the same uid while the process is
 * dumpable, and by root always) and `ps e` then show `NAME=` and zeros.
 * `process.env` is Bun's own copy, made at start, and keeps the values;
 * commands hush starts get an environment built from that copy
 * (src/os/env.ts). Returns how many values were scrubbed; never throws.
 */
export function scrubEnviron(names: readonly string[]): number {
  const lib = (_lib ??= openLibc(SYMBOLS) ?? undefined);
  if (!lib || process.platform !== "linux") return 0;
  let n = 0;
  for (const name of names) {
    try {
      const p = lib.fn.getenv(Buffer.from(name + "\0"));
      if (!p) continue;
      const len = Number(lib.fn.strlen(p));
      if (len > 0) new Uint8Array(toArrayBuffer(p, 0, len)).fill(0);
      n++;
    } catch {}
  }
  return n;
}

/** Core-file limit 0 (soft; and hard unless `keepHard`). True when it now reads back so. */
function _limitCore(lib: LibcFns, w: string[], keepHard: boolean): boolean {
  const lim = new BigUint64Array(2); // struct rlimit { rlim_t rlim_cur, rlim_max }
  // The caller's limit, as it was before the first hardening (hush serve and run are hardened twice).
  if (lib.fn.getrlimit(RLIMIT_CORE, lim) === 0) _caller.coreSoft ??= lim[0];
  const hard = keepHard ? lim[1] : 0n;
  lim[0] = 0n;
  lim[1] = hard;
  if (lib.fn.setrlimit(RLIMIT_CORE, lim) !== 0) {
    w.push(`setrlimit(RLIMIT_CORE, 0) failed (${lib.errno()}): a crash may write a core file`);
    return false;
  }
  lim.fill(1n);
  return lib.fn.getrlimit(RLIMIT_CORE, lim) === 0 && lim[0] === 0n && lim[1] === hard;
}

/**
 * Run `fn` (which starts a child process synchronously) with the caller's
 * umask and soft core-file limit as they were before hardenProcess, then
 * harden again: a command started by `hush run` creates files with the
 * user's umask and keeps the user's core limit (the hard limit is only
 * there if hardenProcess ran with `keepCoreHardLimit`). PR_SET_DUMPABLE and
 * memory locks are not inherited across execve(2), so nothing else is needed.
 */
export function withCallerLimits<T>(fn: () => T): T {
  const lim = new BigUint64Array(2);
  const core = _lib && _caller.coreSoft !== undefined && _lib.fn.getrlimit(RLIMIT_CORE, lim) === 0 ? lim[1] : undefined;
  const set = (soft: bigint) => {
    lim[0] = soft;
    lim[1] = core!;
    _lib!.fn.setrlimit(RLIMIT_CORE, lim);
  };
  if (_caller.umask !== undefined) process.umask(_caller.umask);
  if (core !== undefined) set(_caller.coreSoft! < core ? _caller.coreSoft! : core);
  try {
    return fn();
  } finally {
    if (_caller.umask !== undefined) process.umask(0o077);
    if (core !== undefined) set(0n);
  }
}
