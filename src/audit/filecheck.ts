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
 * Root is trusted (SECURITY.md, trust boundary 7). POSIX only.
 * @module
 */
import { realpathSync, statSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";

const mode = (st: Stats) => (st.mode & 0o7777).toString(8).padStart(4, "0");

/** The hint printed under each refusal. */
export const AUDIT_PATH_HINT =
  "keep the audit file in a directory that only you (or root) can write, e.g. mkdir -m 700 /var/log/hush, owned by the daemon's user; move a file you did not make aside";

/**
 * Why the directories holding `path` cannot be trusted, or undefined when
 * they can. Never throws; a directory that cannot be inspected is a reason.
 */
export function untrustedDirectory(path: string, uid = process.getuid!()): string | undefined {
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
      if (st.mode & writable && !(st.mode & 0o1000)) return `directory ${d} is writable by ${writable === 0o002 ? "others" : "group or others"} (mode ${mode(st)}): they could replace the file`;
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
