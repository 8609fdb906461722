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
 * Root is trusted (SECURITY.md, trust boundary 7). POSIX only.
 * @module
 */
import { realpathSync, statSync, type Stats } from "node:fs";
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
 * or others. The reason ends with ": " + `risk` (what they could have done).
 */
export function untrustedFile(st: Stats, risk: string, uid = process.getuid!(), rootOk = false): string | undefined {
  if (st.uid !== uid && !(rootOk && st.uid === 0)) return `is owned by uid ${st.uid} (mode ${mode(st)}), not by you (uid ${uid})${rootOk ? " or root" : ""}: ${risk}`;
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
