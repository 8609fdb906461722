/**
 * Who may have written the audit file before this run continues its chain
 * (DESIGN.md invariant 6). A new run appends after the last line it finds,
 * so a file that another user owns or can write, or that another user can
 * replace (through a directory they own or can write), could end in a
 * forged line that the new run would then vouch for. Such a file is refused,
 * never adopted:
 * - the directory that holds it (as written, and after symlinks are
 *   resolved) must be owned by the daemon's user or root, and not writable
 *   by group or others unless it has the sticky bit (as /tmp has: there,
 *   nobody else can rename or delete our entries);
 * - every directory above must be owned by the daemon's user or root, and
 *   not writable by others unless sticky (a group-writable system directory,
 *   such as /var/log as root:syslog 0775 on Ubuntu, is accepted above);
 * - the file itself, checked on the open descriptor, must be owned by the
 *   daemon's user and not writable by group or others.
 * The audit sealing state file's directory is held to the same rules, and
 * its holding directory may not be writable by group or others even with
 * the sticky bit. And one daemon per file: `lockOrRefuse` takes an
 * exclusive flock on the audit file and on the state file.
 * Root is trusted (SECURITY.md, trust boundary 7). POSIX only.
 * @module
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { HushError } from "../errors.ts";
import { flockHolderPid, tryLockFile } from "../os/lock.ts";

const mode = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, "0");

/** The hint printed under each refusal of the sealing state's place. */
export const STATE_PATH_HINT =
  "keep the sealing state in a directory that only the daemon's user (or root) can write, e.g. mkdir -m 700 /var/lib/hush, owned by that user; never in /tmp or another shared directory";

/** The hint printed under each refusal. */
export const AUDIT_PATH_HINT =
  "keep the audit file in a directory that only you (or root) can write, e.g. mkdir -m 700 /var/log/hush, owned by the daemon's user; move a file you did not make aside";

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

/** Why the open audit file (`st` from fstat) cannot be trusted, or undefined when it can. */
export function untrustedFile(st: Stats, uid = process.getuid!()): string | undefined {
  if (st.uid !== uid) return `is owned by uid ${st.uid} (mode ${mode(st)}), not by you (uid ${uid}): its owner could have forged its last lines`;
  if (st.mode & 0o022) return `is writable by group or others (mode ${mode(st)}): they could have forged its last lines`;
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
