/**
 * The sealing state file's place and rewrites (issue 12 follow-up, findings
 * 3 and 4).
 *
 * - Its directory is held to the audit file's rules, and more: a holding
 *   directory that group or others can write is refused even with the
 *   sticky bit (/tmp), by `hush keygen audit --state-out` (nothing made) and
 *   by `hush serve --audit-state-file` (nothing written). Another user there
 *   could plant the temp name or keep old states alive.
 * - Each rewrite goes through a temp file with a random name, created
 *   exclusively: a file planted at the old, predictable `.NAME.tmp` (or a
 *   symlink there) neither stops the daemon nor its seals.
 * - A seal line appended to the log with a huge epoch and the state's key id
 *   no longer hangs the start: the state moves on at most MAX_EPOCH_CATCH_UP
 *   epochs, and only to a seal its own chain made (its MAC verifies).
 * - The state file is locked: a second load is refused while the first
 *   holds it, also after the first has rewritten it (a new file).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AuditWriter, MAX_EPOCH_CATCH_UP, lineHash, parseSealStateFile, sealMacV2, epochSealKey, evolveSealState, verifyAuditLog } from "../../src/audit/index.ts";
import { hush, startDaemon, type Daemon } from "../e2e/_harness.ts";
import { makeSealing } from "./_sealing.ts";
import { tryServe } from "./_serve.ts";
import { tempDir } from "../_tmp.ts";

const root = tempDir("hush-audit-sf-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const started: Daemon[] = [];
afterAll(() => started.forEach((d) => d.cleanup()));

/** A fresh 0700 directory under root. */
function dir(name: string, mode = 0o700): string {
  const d = join(root, name);
  mkdirSync(d);
  chmodSync(d, mode);
  return d;
}

describe("the state file's directory", () => {
  test("keygen audit --state-out refuses a shared sticky directory (like /tmp) and a group-writable one; nothing is made", async () => {
    for (const [name, mode] of [["sticky", 0o1777], ["group", 0o770]] as const) {
      const d = dir(`kg-${name}`, mode);
      const key = join(root, `kg-${name}.verify`);
      const r = await hush(["keygen", "audit", "--out", key, "--state-out", join(d, "x.state")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`hush: error: audit state file ${join(d, "x.state")}: directory ${d} is writable by group or others (mode ${mode.toString(8).padStart(4, "0")})`);
      expect(r.stderr).toContain("hush: hint: keep the sealing state in a directory that only the daemon's user (or root) can write");
      expect(readdirSync(d)).toEqual([]);
      expect(existsSync(key)).toBe(false);
    }
  });

  test("serve --audit-state-file refuses a state moved into a sticky world-writable directory; the audit file is not made", async () => {
    const good = dir("srv-good");
    const r = await hush(["keygen", "audit", "--out", join(good, "v"), "--state-out", join(good, "x.state")]);
    expect(r.code).toBe(0);
    const shared = dir("srv-shared", 0o1777);
    renameSync(join(good, "x.state"), join(shared, "x.state"));
    const log = join(good, "audit.jsonl");
    const s = await tryServe(["--socket", join(good, "run", "hush.sock"), "--audit-file", log, "--audit-state-file", join(shared, "x.state")]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain(`hush: error: audit state file ${join(shared, "x.state")}: directory ${shared} is writable by group or others (mode 1777)`);
    expect(existsSync(log)).toBe(false);
    expect(existsSync(join(good, "run", "hush.sock"))).toBe(false);
  });
});

describe("rewrites through a random temp name", () => {
  test("a plain file and a symlink planted at the old predictable temp name stop neither the start nor a seal", async () => {
    const d = dir("plant");
    const key = join(d, "audit.verify");
    const state = join(d, "audit.state");
    expect((await hush(["keygen", "audit", "--out", key, "--state-out", state])).code).toBe(0);
    const planted = join(d, ".audit.state.tmp");
    symlinkSync("/etc/passwd", planted); // before the start (the old code refused to start)
    const log = join(d, "audit.jsonl");
    const sockets = dir("plant-run");
    const daemon = await startDaemon(["--audit-file", log, "--audit-state-file", state, "--audit-seal-every", "1"], { dir: sockets });
    started.push(daemon);
    expect(readlinkSync(planted)).toBe("/etc/passwd"); // left alone, not followed
    rmSync(planted);
    writeFileSync(planted, "planted after the start", { mode: 0o644 }); // after (the old code's every seal failed)
    await daemon.issue("w1");
    await daemon.issue("w2");
    expect((await daemon.cli(["health"])).code).toBe(0);
    expect(await daemon.stop()).toBe(0);
    expect(daemon.log()).not.toContain("could not be closed cleanly");
    expect(parseSealStateFile(readFileSync(state, "utf8")).epoch).toBe(4); // start seal, two events, closing seal
    const v = await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"]);
    expect(v.code).toBe(0);
    expect(readdirSync(d).filter((n) => n.endsWith(".tmp") && n !== ".audit.state.tmp")).toEqual([]);
  }, 30_000);

  test("a temp file left by a crash (random name, or the old name) is erased at load; a foreign symlink is not touched", () => {
    const d = dir("leftover");
    const sl = makeSealing(d, "s.state");
    writeFileSync(join(d, ".s.state.0123456789abcdef.tmp"), "stale", { mode: 0o600 });
    writeFileSync(join(d, ".s.state.tmp"), "stale", { mode: 0o600 });
    symlinkSync("/etc/passwd", join(d, ".s.state.fedcba9876543210.tmp"));
    const s = sl.load();
    expect(readdirSync(d).sort()).toEqual([".s.state.fedcba9876543210.tmp", "s.state"]);
    s.advance();
    s.persist();
    expect(lstatSync(join(d, ".s.state.fedcba9876543210.tmp")).isSymbolicLink()).toBe(true);
    s.close();
  });
});

describe("one daemon per state file (in-process)", () => {
  test("a second load is refused while the first holds it, also after a rewrite replaced the file; close() lets it go", () => {
    const sl = makeSealing(dir("lock"));
    const a = sl.load();
    const refused = new RegExp(`audit state file ${sl.path} is in use by another hush daemon \\(pid ${process.pid}\\)`);
    expect(() => sl.load()).toThrow(refused);
    a.advance();
    a.persist(); // a new file (inode) under the name: locked before it replaced the old one
    expect(() => sl.load()).toThrow(refused);
    a.close();
    const b = sl.load();
    expect(b.epoch).toBe(1);
    b.close();
  });
});

describe("a seal line appended with a far epoch", () => {
  /** A closed run sealed with `sl`, and its file's lines. */
  function sealedLog(name: string) {
    const d = dir(name);
    const sl = makeSealing(d);
    const path = join(d, "audit.jsonl");
    AuditWriter.open({ path, sealing: sl.load() }).close();
    return { d, sl, path, lines: readFileSync(path, "utf8").trimEnd().split("\n") };
  }
  /** Append a seal line (key id of `sl`) at `epoch`, with `mac`. */
  function appendSeal(path: string, lines: string[], keyId: string, epoch: number, mac: (seq: number, prev: string, ts: number) => string) {
    const last = JSON.parse(lines.at(-1)!);
    const seq = last.seq + 1;
    const prev = lineHash(lines.at(-1)!);
    const ts = last.ts + 1;
    appendFileSync(path, JSON.stringify({ seq, ts, type: "seal", prev, key_id: keyId, epoch, mac: mac(seq, prev, ts) }) + "\n");
  }

  test("far beyond MAX_EPOCH_CATCH_UP: the start is refused at once, the state and the file untouched", () => {
    const { sl, path, lines } = sealedLog("far");
    appendSeal(path, lines, sl.keyId, 2 ** 52, () => "A".repeat(43));
    const before = readFileSync(sl.path, "utf8");
    const size = readFileSync(path).length;
    expect(() => AuditWriter.open({ path, sealing: sl.load() })).toThrow(`more than ${MAX_EPOCH_CATCH_UP} epochs ahead`);
    expect(readFileSync(sl.path, "utf8")).toBe(before);
    expect(readFileSync(path).length).toBe(size);
    sl.load().close(); // its lock was dropped with the failed start
  });

  test("within reach but not made by this chain (the MAC fails): refused; made by it (a crash after the seal): moved on", () => {
    const { sl, path, lines } = sealedLog("near");
    const at = parseSealStateFile(readFileSync(sl.path, "utf8"));
    expect(at.epoch).toBe(2);
    appendSeal(path, lines, sl.keyId, 5, () => "A".repeat(43));
    expect(() => AuditWriter.open({ path, sealing: sl.load() })).toThrow(/that seal does not verify with the sealing state: this daemon's chain did not write it/);
    // The same seal, made with the chain's key of epoch 5: what a daemon with this state would have written.
    writeFileSync(path, lines.join("\n") + "\n");
    let s = at.state;
    for (let e = 2; e < 5; e++) s = evolveSealState(s);
    appendSeal(path, lines, sl.keyId, 5, (seq, prev, ts) => sealMacV2(epochSealKey(s), sl.keyId, seq, 5, prev, ts));
    const w = AuditWriter.open({ path, sealing: sl.load() });
    expect(w.warnings.join()).toContain("moved the state on to epoch 6");
    w.close();
    expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(8);
    // (the appended seal is still out of place: the verifier reports it)
    expect(verifyAuditLog(readFileSync(path), { verifyKey: sl.seed }).error).toMatchObject({ seq: lines.length + 1, reason: expect.stringMatching(/a seal line after the run's stop line/) });
  });

  test("through the binary: serve exits 2 at once, naming the gap", async () => {
    const { d, sl, path, lines } = sealedLog("far-bin");
    appendSeal(path, lines, sl.keyId, Number.MAX_SAFE_INTEGER - 1, () => "A".repeat(43));
    const r = await tryServe(["--socket", join(d, "run", "hush.sock"), "--audit-file", path, "--audit-state-file", sl.path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`epoch ${Number.MAX_SAFE_INTEGER - 1}, but audit state file ${sl.path} is at epoch 2: more than ${MAX_EPOCH_CATCH_UP} epochs ahead`);
  });
});
