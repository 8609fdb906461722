/**
 * Temporary directories (and other leftovers) of tests. Every directory a
 * test makes lives under one parent per test process,
 * `$TMPDIR/hush-test-run-<pid>-XXXXXX` (mode 0711: others may pass through to
 * a directory a test opened on purpose, but cannot list it). The run removes
 * it when it ends: `bun test` never fires `process.on("exit")` handlers, so
 * the preload registers `endOfRun` as a global afterAll (test/_preload.ts).
 * A run that is killed (SIGKILL at a CI time limit) runs no hook at all, and
 * its directories may hold worker credentials and daemon sockets: the next
 * run's preload calls `sweepStale`, which removes every parent whose pid is
 * no longer alive. A test that wants its directory gone sooner calls
 * `removeTempDir`.
 * @module
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();
const atEnd = new Set<() => void>();
let runDir: string | null = null;

/** The per-process parent's name: `hush-test-run-<pid>-` then mkdtemp's six characters. */
const RUN_DIR = /^hush-test-run-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Directories that tests made straight under the temp directory before the
 * per-run parent existed (`hush-test-XXXXXX` and the other prefixes they
 * used), kept here only so that a sweep removes what old killed runs left.
 * Never `hush-<uid>`: that is a real daemon's default socket directory.
 */
const LEGACY =
  /^hush-(test|test-sockid|audit-[a-z0-9]+|auth|change|change-fs|checkout|child|clone|cluster|consumers|creds|eb|eb-run|eb-stale|exec-env|failover|failures|file-trust|filed|flood|ft-key|ft-serve|ft-tls|harden|harden-run|harden-unit|idle|join|join-e2e|limits|limits-audit|masking|minisign|npm-[a-z-]+|oracle|os|pipeline|proxy|redis|rekey|rekey-audit|rel-cwd|rel-smoke|release|replay|run-tmp|sdk|sdkws|signals|statefail|status-fs|trust|ws|wsbun|xdg)-[A-Za-z0-9]{6}$/;

/** How old (mtime, ms) a legacy directory must be before a sweep removes it: no run lasts an hour. */
export const LEGACY_AGE_MS = 60 * 60 * 1000;

/** Run `fn` when the test run ends (e.g. kill a daemon a test forgot to stop). */
export function atRunEnd(fn: () => void): () => void {
  atEnd.add(fn);
  return () => atEnd.delete(fn);
}

/** This process's parent directory for test directories, made (0711) on first use. */
export function testRunDir(): string {
  if (runDir === null) {
    runDir = mkdtempSync(join(tmpdir(), `hush-test-run-${process.pid}-`));
    chmodSync(runDir, 0o711);
  }
  return runDir;
}

/** A fresh 0700 directory `<run dir>/<prefix>XXXXXX`, removed at the end of the run. */
export function tempDir(prefix = "hush-test-"): string {
  const d = mkdtempSync(join(testRunDir(), prefix));
  made.add(d);
  return d;
}

/** Remove one directory made by tempDir (or any path a test made), now. */
export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  made.delete(d);
}

/** Run every atRunEnd function, then remove every directory tempDir made and the run's parent. */
export function endOfRun(): void {
  for (const fn of atEnd) {
    try {
      fn();
    } catch {}
  }
  atEnd.clear();
  for (const d of made) removeTempDir(d);
  if (runDir !== null) rmSync(runDir, { recursive: true, force: true });
  runDir = null;
}

// A plain `bun` process (a test's child script) does fire exit handlers.
process.on("exit", () => {
  if (runDir !== null) rmSync(runDir, { recursive: true, force: true });
});

/** Whether process `pid` exists (EPERM: it does, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Remove what killed test runs left in `root` (default: the temp directory):
 * every `hush-test-run-<pid>-*` directory whose pid is not alive, and legacy
 * test directories whose mtime is older than LEGACY_AGE_MS. Only directories
 * (not symlinks) owned by this uid are touched; a live run's parent never is.
 * @returns the paths removed.
 */
export function sweepStale(root = tmpdir(), now = Date.now()): string[] {
  const removed: string[] = [];
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    const run = RUN_DIR.exec(name);
    if (!run && !LEGACY.test(name)) continue;
    const path = join(root, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (run ? Number(run[1]) === process.pid || pidAlive(Number(run[1])) : now - st.mtimeMs < LEGACY_AGE_MS) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {}
  }
  return removed;
}
