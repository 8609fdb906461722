/**
 * Test directories left by a killed test run (test/_tmp.ts): a child bun
 * process makes a directory through tempDir, writes a credential file in it
 * and is SIGKILLed (no hook runs); the next sweep removes its parent, and
 * keeps a live process's directory, symlinks, other uids' and recent legacy
 * directories.
 * @module
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { LEGACY_AGE_MS, sweepStale, tempDir, testRunDir } from "../_tmp.ts";

const TMP_TS = resolve(import.meta.dir, "../_tmp.ts");
const children: { kill(sig?: number | NodeJS.Signals): void }[] = [];
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
});

/** A bun process with TMPDIR=root that makes a test dir holding a credential file, prints it and stays. */
async function holder(root: string): Promise<{ proc: ReturnType<typeof Bun.spawn>; dir: string }> {
  const script = join(root, "holder.ts");
  writeFileSync(
    script,
    `import { tempDir } from ${JSON.stringify(TMP_TS)};
import { writeFileSync } from "node:fs";
const d = tempDir();
writeFileSync(d + "/worker.cred", "not-a-real-credential", { mode: 0o600 });
console.log(d);
setInterval(() => {}, 60_000);
`,
  );
  const proc = Bun.spawn([process.execPath, script], { env: { ...process.env, TMPDIR: root }, stdout: "pipe", stderr: "inherit" });
  children.push(proc);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`holder exited before printing its directory: ${out}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, dir: out.trim() };
}

describe("test directories", () => {
  test("live under one parent per process, named with its pid, that others may pass but not list", () => {
    const d = tempDir("hush-x-");
    const parent = testRunDir();
    expect(dirname(d)).toBe(parent);
    expect(basename(parent)).toMatch(new RegExp(`^hush-test-run-${process.pid}-[A-Za-z0-9]{6}$`));
    expect(statSync(parent).mode & 0o777).toBe(0o711);
    expect(statSync(d).mode & 0o777).toBe(0o700);
  });

  test("a SIGKILLed run's directory is removed by the next sweep; a live run's is kept", async () => {
    const root = tempDir("hush-sweep-");
    const dead = await holder(root);
    const live = await holder(root);
    const deadParent = dirname(dead.dir);
    const liveParent = dirname(live.dir);
    expect(basename(deadParent)).toMatch(new RegExp(`^hush-test-run-${dead.proc.pid}-`));
    expect(readFileSync(join(dead.dir, "worker.cred"), "utf8")).toBe("not-a-real-credential");

    dead.proc.kill("SIGKILL");
    await dead.proc.exited;
    // No hook ran: the credential is still on disk.
    expect(existsSync(join(dead.dir, "worker.cred"))).toBe(true);

    // A symlink named like a dead run's parent is not followed, nor removed.
    const target = join(root, "target");
    mkdirSync(target);
    const link = join(root, `hush-test-run-${dead.proc.pid}-Sym123`);
    symlinkSync(target, link);

    const removed = sweepStale(root);
    expect(removed).toEqual([deadParent]);
    expect(existsSync(deadParent)).toBe(false);
    expect(existsSync(join(live.dir, "worker.cred"))).toBe(true);
    expect(existsSync(link) && existsSync(target)).toBe(true);

    live.proc.kill("SIGKILL");
    await live.proc.exited;
    expect(sweepStale(root)).toEqual([liveParent]);
  });

  test("legacy test directories go once older than an hour; recent ones and other names stay", () => {
    const root = tempDir("hush-sweep-");
    const old = (name: string) => {
      const p = join(root, name);
      mkdirSync(p);
      const t = (Date.now() - LEGACY_AGE_MS - 60_000) / 1000;
      utimesSync(p, t, t);
      return p;
    };
    const oldTest = old("hush-test-AbC123");
    const oldRun = old("hush-run-tmp-Zz9Zz9");
    const daemonDir = old(`hush-${process.getuid?.() ?? 0}`); // a real daemon's default socket directory
    const other = old("hush-main");
    const recent = join(root, "hush-test-New123");
    mkdirSync(recent);

    expect(sweepStale(root).sort()).toEqual([oldRun, oldTest].sort());
    for (const kept of [daemonDir, other, recent]) expect(existsSync(kept)).toBe(true);
  });
});
