/**
 * Temporary directories (and other leftovers) of tests, removed when the run
 * ends. `bun test` never fires `process.on("exit")` handlers, so the preload
 * registers `endOfRun` as a global afterAll (test/_preload.ts); a test that
 * wants its directory gone sooner calls `removeTempDir`.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();
const atEnd = new Set<() => void>();

/** Run `fn` when the test run ends (e.g. kill a daemon a test forgot to stop). */
export function atRunEnd(fn: () => void): () => void {
  atEnd.add(fn);
  return () => atEnd.delete(fn);
}

/** A fresh 0700 directory under the system temp directory, removed at the end of the run. */
export function tempDir(prefix = "hush-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.add(d);
  return d;
}

/** Remove one directory made by tempDir (or any path a test made), now. */
export function removeTempDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  made.delete(d);
}

/** Run every atRunEnd function, then remove every directory tempDir made that is still there. */
export function endOfRun(): void {
  for (const fn of atEnd) {
    try {
      fn();
    } catch {}
  }
  atEnd.clear();
  for (const d of made) removeTempDir(d);
}
