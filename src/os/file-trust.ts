/**
 * Who else could have written, or could replace, a file hush trusts: the
 * audit file a new run continues (DESIGN.md invariant 6: it could end in a
 * forged line that the new run would then vouch for), and the files the
 * daemon and the CLI read secrets or policy from. A file that another user
 * owns or can write, or can replace through a directory they own or can
 * write, is refused:
 * - the directory that holds it (as written, and after symlinks are
 *   resolved) must be owned by the daemon's user or root, and not writable
 *   by group or others unless it has the sticky bit (as /tmp has: there,
 *   nobody else can rename or delete our entries);
 * - every directory above must be owned by the daemon's user or root, and
 *   not writable by others unless sticky (a group-writable system directory,
 *   such as /var/log as root:syslog 0775 on Ubuntu, is accepted above);
 * - the file itself, checked on the open descriptor, must be owned by the
 *   daemon's user and not writable by group or others (`untrustedFile`;
 *   its caller says what such a file could have done).
 * And one daemon per file: `lockOrRefuse` takes an exclusive flock (the
 * audit file and the audit sealing state file use it).
 * Root is trusted (SECURITY.md, trust boundary 8). POSIX only.
 *
 * `readTrustedFile` applies the rule to a file read at start (`--creds-file`,
 * `--cred NAME=file:`, `--server-key-file`, `--tls-key`, …) or by the CLI
 * (`--credential-file`, `--value-file`, …), where the file may also be
 * root's, and adds a rule for secrets: a secret file that every user can
 * read (mode o+r, in directories every user can enter) is refused or
 * warned about, one the group can read is warned about.
 * @module
 */
import { closeSync, fstatSync, openSync, readFileSync, realpathSync, statSync, constants as fsc, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { HushError } from "../errors.ts";
import { flockHolderPid, tryLockFile } from "./lock.ts";

const mode = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, "0");

/**
 * Why the directories holding `path` cannot be trusted, or undefined when
 * they can. `holderSticky` false: the holding directory may not be writable
 * by group or others even with the sticky bit (the sealing state: in /tmp,
 * others could make entries next to it and watch its names). Never throws;
 * a directory that cannot be inspected is a reason.
 */
export function untrustedDirectory(path: string, uid = process.getuid!(), holderSticky = true): string | undefined {
  const start = dirname(resolve(path));
  const chains = [start];
  try {
    const real = realpathSync(start);
    if (real !== start) chains.push(real);
  } catch {
    // a missing directory is reported by open(2) later, with its own message
    return undefined;
  }
  for (const first of chains) {
    for (let d = first; ; d = dirname(d)) {
      let st: Stats;
      try {
        st = statSync(d);
      } catch (e: any) {
        return `cannot inspect directory ${d} (${e?.code ?? e})`;
      }
      const writable = d === first ? 0o022 : 0o002; // group-writable is refused only for the holding directory
      if (st.uid !== uid && st.uid !== 0) return `directory ${d} is owned by uid ${st.uid} (mode ${mode(st)}), not by you (uid ${uid}) or root: its owner could replace the file`;
      const sticky = st.mode & 0o1000 && (holderSticky || d !== first);
      const what = st.mode & 0o1000 ? "make files next to it" : "replace the file";
      if (st.mode & writable && !sticky) return `directory ${d} is writable by ${writable === 0o002 ? "others" : "group or others"} (mode ${mode(st)}): they could ${what}`;
      if (d === dirname(d)) break;
    }
  }
  return undefined;
}

/**
 * Why an open file (`st` from fstat) cannot be trusted, or undefined when it
 * can: another owner (`rootOk`: root may own it too), or writable by group
 * or others. The reason ends with ": " + `risk` (what "they" could have
 * done; "its owner" for another owner).
 */
export function untrustedFile(st: Stats, risk: string, uid = process.getuid!(), rootOk = false): string | undefined {
  if (st.uid !== uid && !(rootOk && st.uid === 0)) return `is owned by uid ${st.uid} (mode ${mode(st)}), not by you (uid ${uid})${rootOk ? " or root" : ""}: ${risk.replace(/^they /, "its owner ")}`;
  if (st.mode & 0o022) return `is writable by group or others (mode ${mode(st)}): ${risk}`;
  return undefined;
}

/**
 * Take the exclusive lock of a file one daemon must own alone (`what`: "audit
 * file" or "audit state file", `flag` the option that names it), open at
 * `fd`. Two daemons writing one audit file interleave their lines, and two
 * sealing with one state reuse its epochs: either breaks the log.
 * @throws HushError `conflict` (naming the holder's pid when /proc/locks
 *   tells it) when another process holds it; `unavailable` from flock.
 */
export function lockOrRefuse(fd: number, path: string, what: string, flag: string): void {
  if (tryLockFile(fd, path)) return;
  const pid = flockHolderPid(fd);
  throw new HushError("conflict", `${what} ${path} is in use by another hush daemon${pid ? ` (pid ${pid})` : ""}: two daemons must not write one ${what}`, {
    hint: `stop that daemon first${pid ? ` (kill -TERM ${pid})` : ""} and wait until it has exited, or give this daemon its own ${flag}`,
  });
}

/** How `readTrustedFile` treats a file others can read: refuse it (a daemon's secret), warn (a CLI input), or nothing (not a secret). */
export type Readable = "refuse" | "warn" | "allow";

export interface TrustedFileOptions {
  /** The flag that named the file, for messages: `--creds-file`, `--cred db=file:`. */
  what: string;
  /** What another user who owns or can write it could have done: "they could have chosen the value". */
  risk: string;
  readable: Readable;
}

/** The hint under a refusal of a file another user owns or can write (or replace). */
export const TRUSTED_FILE_HINT =
  "keep the file owned by you (or root), mode 600, in a directory that only you (or root) can write (e.g. install -m 600 FILE ~/.config/hush/); a file another user gave you may hold what they chose";

/** The hint under a refusal of a secret file that every user can read. */
export const READABLE_FILE_HINT = "chmod 600 it (640 with a group that must read it, such as the service's own)";

/** Every directory above the file can be entered by others (o+x): then an o+r file is readable by every user. */
function _reachableByOthers(real: string): boolean {
  for (let d = dirname(real); ; d = dirname(d)) {
    try {
      if (!(statSync(d).mode & 0o001)) return false;
    } catch {
      return false;
    }
    if (d === dirname(d)) return true;
  }
}

/**
 * Check a file that holds a secret or policy, opened by the caller (`st` is
 * its fstat, so the file read is the file checked): no other user (but
 * root) owns it or can write it, or can replace it through a directory
 * (`untrustedDirectory`, for the path as written and for where its
 * symbolic links lead). Returns warnings: a secret readable by other users
 * (by mode). Throws HushError `invalid_request` naming the flag, the path
 * and the reason (`detail.hint`): another owner, writable by others, an
 * untrusted directory, or (`readable` "refuse") readable by every user
 * (mode o+r, in directories every user can enter).
 */
export function checkTrustedFile(path: string, st: Stats, opts: TrustedFileOptions): string[] {
  const fail = (why: string, hint: string): never => {
    throw new HushError("invalid_request", `${opts.what} ${path}${why.startsWith("is ") ? " " : ": "}${why}`, { hint });
  };
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {}
  for (const p of new Set([path, ...(real ? [real] : [])])) {
    const dirProblem = untrustedDirectory(p);
    if (dirProblem) fail(dirProblem, TRUSTED_FILE_HINT);
  }
  const problem = untrustedFile(st, opts.risk, undefined, true);
  if (problem) fail(problem, TRUSTED_FILE_HINT);
  if (opts.readable === "allow" || !st.isFile() || !(st.mode & 0o044)) return [];
  if (opts.readable === "refuse" && st.mode & 0o004 && real && _reachableByOthers(real)) {
    fail(`is readable by every user (mode ${mode(st)}): it holds a secret`, READABLE_FILE_HINT);
  }
  return [`${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`];
}

/**
 * Open, check (`checkTrustedFile`) and read a file that holds a secret or
 * policy. Symbolic links are followed (mounted secrets are links); a FIFO
 * or `/dev/stdin` is read as it comes. Returns the bytes and the warnings.
 * Throws HushError `invalid_request`: unreadable, or refused by the check.
 */
export function readTrustedFile(path: string, opts: TrustedFileOptions): { bytes: Uint8Array; warnings: string[] } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOCTTY);
  } catch (e: any) {
    throw new HushError("invalid_request", `cannot read ${opts.what} ${path}: ${e?.code ?? e}`);
  }
  try {
    const warnings = checkTrustedFile(path, fstatSync(fd), opts);
    return { bytes: new Uint8Array(readFileSync(fd)), warnings };
  } finally {
    closeSync(fd);
  }
}
