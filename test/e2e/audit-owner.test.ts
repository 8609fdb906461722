/**
 * The audit file is never adopted from someone else (DESIGN.md invariant 6,
 * src/os/file-trust.ts), through the compiled binary: a file another user
 * owns or can write, or a directory on its path that another user owns or
 * can write (without the sticky bit), stops the start with a clear error
 * naming the path, the owner and the mode, and a hint; the file is left
 * exactly as it was (no chmod, no line appended) and nothing listens.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, startDaemon, tempDir } from "./_harness.ts";

const isRoot = process.getuid?.() === 0;
const uid = process.getuid!();

/** An audit file with one run in it, made by a real daemon. */
async function auditFile(dir: string): Promise<string> {
  const audit = join(dir, "audit.log");
  const d = await startDaemon(["--audit-file", audit]);
  expect(await d.stop()).toBe(0);
  d.cleanup();
  return audit;
}

/** `hush serve` with AUDIT must be refused (exit 2) with MESSAGE and the hint, changing nothing. */
async function expectRefused(audit: string, message: string) {
  const before = existsSync(audit) ? { text: readFileSync(audit, "utf8"), mode: statSync(audit).mode, uid: statSync(audit).uid } : undefined;
  const socket = join(tempDir(), "run", "hush.sock");
  const p = Bun.spawn([HUSH, "serve", "--socket", socket, "--audit-file", audit], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(p.stderr).text();
  const code = await Promise.race([p.exited, Bun.sleep(10_000).then(() => "still running")]);
  if (code === "still running") p.kill("SIGTERM"); // adopted the file and served
  const r = { code, stderr: await stderr };
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`hush: error: audit file ${audit}: ${message}`);
  expect(r.stderr).toContain("hush: hint: keep the audit file in a directory that only you (or root) can write");
  expect(existsSync(socket)).toBe(false);
  if (before) expect({ text: readFileSync(audit, "utf8"), mode: statSync(audit).mode, uid: statSync(audit).uid }).toEqual(before);
  else expect(existsSync(audit)).toBe(false);
}

describe("an audit file that someone else could have written is refused", () => {
  test.skipIf(!isRoot)("a file owned by another user", async () => {
    // Needs root to chown the file to nobody; skipped (with this reason) elsewhere.
    const audit = await auditFile(tempDir());
    chownSync(audit, 65534, 65534);
    chmodSync(audit, 0o644);
    await expectRefused(audit, `is owned by uid 65534 (mode 0644), not by you (uid ${uid}): its owner could have forged its last lines`);
  });

  test("a file of ours that group or others can write", async () => {
    const audit = await auditFile(tempDir());
    chmodSync(audit, 0o666);
    await expectRefused(audit, "is writable by group or others (mode 0666): they could have forged its last lines");
  });

  test("a directory on the path that others can write (no sticky bit), also for a file not made yet", async () => {
    const dir = join(tempDir(), "shared");
    mkdirSync(dir);
    const audit = await auditFile(dir);
    chmodSync(dir, 0o777);
    await expectRefused(audit, `directory ${dir} is writable by group or others (mode 0777): they could replace the file`);
    await expectRefused(join(dir, "new.log"), `directory ${dir} is writable by group or others (mode 0777): they could replace the file`);
    const parent = join(dir, "sub");
    mkdirSync(parent, { mode: 0o700 });
    await expectRefused(join(parent, "a.log"), `directory ${dir} is writable by others (mode 0777): they could replace the file`);
    chmodSync(dir, 0o770);
    await expectRefused(audit, `directory ${dir} is writable by group or others (mode 0770): they could replace the file`);
  });

  test.skipIf(!isRoot)("a directory owned by another user", async () => {
    // Needs root to chown the directory to nobody; skipped (with this reason) elsewhere.
    const dir = join(tempDir(), "theirs");
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, "audit.log"), "");
    chownSync(dir, 65534, 65534);
    await expectRefused(join(dir, "audit.log"), `directory ${dir} is owned by uid 65534 (mode 0755), not by you (uid ${uid}) or root: its owner could replace the file`);
  });

  test("accepted: a private directory under a group-writable one and a sticky world-writable one (/tmp); a file only readable by others is tightened, with a warning", async () => {
    const group = join(tempDir(), "group");
    mkdirSync(group);
    chmodSync(group, 0o775); // like Ubuntu's /var/log (root:syslog 0775): group-writable is accepted above the holding directory
    const dir = join(group, "hush");
    mkdirSync(dir, { mode: 0o700 });
    const audit = await auditFile(dir);
    chmodSync(audit, 0o644);
    const d = await startDaemon(["--audit-file", audit]);
    try {
      expect(d.log()).toContain("had mode 644; changed to 600");
      expect(statSync(audit).mode & 0o777).toBe(0o600);
    } finally {
      d.cleanup();
    }
  });
});
