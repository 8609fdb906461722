/**
 * A small tmpfs for tests that fill a disk (the audit file's fail-closed and
 * all-or-nothing rules). Needs Linux and root; otherwise `why` says why, for
 * the test's SKIP line. The caller unmounts it.
 * @module
 */
import { mkdirSync } from "node:fs";

/** Mount a tmpfs of `size` (mount(8) form, e.g. "4m") at `dir` (made 0700). */
export function mountTmpfs(dir: string, size: string): { mounted: boolean; why: string } {
  if (process.platform !== "linux") return { mounted: false, why: "needs Linux tmpfs" };
  if (process.getuid?.() !== 0) return { mounted: false, why: "needs root to mount a tmpfs" };
  mkdirSync(dir, { mode: 0o700 });
  const p = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  return p.exitCode === 0 ? { mounted: true, why: "" } : { mounted: false, why: `mount failed: ${p.stderr.toString().trim()}` };
}
