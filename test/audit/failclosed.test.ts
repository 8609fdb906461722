/**
 * The audit sink fails closed and recovers (PROTOCOL.md §9): the log lives
 * on a real 64 KiB tmpfs that is filled up mid-run. While it is full the
 * writer reports `healthy: false` and keeps the lines in memory; once space
 * is freed the pending lines land in order and the chain and seals verify.
 * The same for the sealing state file: while it cannot be rewritten the
 * writer is unhealthy, and it holds the old state until it can.
 * Needs root (mount); otherwise skipped with the reason printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { AuditWriter, parseSealStateFile, verifyAuditLog } from "../../src/audit/index.ts";
import { makeSealing } from "./_sealing.ts";
import { fillUntilFull } from "./_fill.ts";
import { tempDir } from "../_tmp.ts";

const dir = tempDir("hush-audit-fc-");
let mounted = false;
let why = "";

beforeAll(() => {
  if (process.platform !== "linux") why = "needs Linux tmpfs";
  else if (process.getuid?.() !== 0) why = "needs root to mount a tmpfs";
  else {
    const p = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir]);
    mounted = p.exitCode === 0;
    if (!mounted) why = `mount failed: ${p.stderr.toString().trim()}`;
  }
  if (!mounted) console.warn(`SKIP failclosed tests: ${why}`);
});

afterAll(() => {
  if (mounted) Bun.spawnSync(["umount", dir]);
  rmSync(dir, { recursive: true, force: true });
});

/** Fill the filesystem with `name` until ENOSPC. */
const fill = (name: string) => fillUntilFull(join(dir, name));

describe("disk full mid-run", () => {
  const other = tempDir("hush-audit-fc2-");
  afterAll(() => rmSync(other, { recursive: true, force: true }));

  test("healthy turns false, lines are kept in order, and land when space returns", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(dir, "audit.log");
    let t = 1_700_000_000_000;
    const sl = makeSealing(other); // the state file has room; the log's filesystem fills up
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 5, sealIntervalMs: 1000, now: () => t });
    for (let i = 0; i < 12; i++) w.record({ actor: "w_a", via: "worker", action: "kv.get", target: `k${i}`, result: "ok" });
    expect(w.healthy).toBe(true);
    const before = statSync(path).size;

    fill("filler");
    let recorded = 12;
    for (let i = 0; i < 400 && w.healthy; i++, recorded++) w.record({ actor: "w_a", via: "worker", action: "cred.checkout", target: `c${i}`, result: "ok" });
    expect(w.healthy).toBe(false);
    expect(w.status().lastError).toBe("ENOSPC");
    // Still failing: more events and a timed seal queue up in memory; retries fail.
    for (let i = 0; i < 20; i++, recorded++) w.record({ actor: "w_b", via: "admin", action: "cred.put", target: `p${i}`, result: "ok" });
    t += 5000;
    w.tick();
    expect(w.healthy).toBe(false);
    expect(w.status().pendingLines).toBeGreaterThan(20);
    expect(statSync(path).size).toBeGreaterThan(before);
    // The last page took part of a line: the rest must follow it on recovery, not a new line.
    expect(readFileSync(path).at(-1)).not.toBe(0x0a);

    unlinkSync(join(dir, "filler"));
    w.tick();
    expect(w.healthy).toBe(true);
    expect(w.status()).toMatchObject({ pendingLines: 0, lastError: null });
    expect(w.close()).toBe(true);

    const text = readFileSync(path);
    const r = verifyAuditLog(text, { verifyKey: sl.seed, requireClosed: true });
    expect(r).toMatchObject({ ok: true, runs: 1, closed: true, unsealedTail: 0 });
    expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(r.nextEpoch!);
    const lines = text.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual(lines.map((_, i) => i + 1));
    const events = lines.filter((l) => l.type === "event");
    expect(events.length).toBe(recorded);
    expect(events.slice(-20).map((l) => l.target)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i}`));
  });

  test("a full backlog counts what it had to drop and says so in the log", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(dir, "small.log");
    const sl = makeSealing(other);
    const w = AuditWriter.open({ path, sealing: sl.load(), maxPendingBytes: 2000 });
    fill("filler2");
    for (let i = 0; i < 200; i++) w.record({ actor: "w_c", action: "kv.put", target: `x${i}`, result: "ok" });
    expect(w.healthy).toBe(false);
    expect(w.status().dropped).toBeGreaterThan(100);
    unlinkSync(join(dir, "filler2"));
    w.tick();
    expect(w.healthy).toBe(true);
    w.close();
    const text = readFileSync(path);
    expect(verifyAuditLog(text, { verifyKey: sl.seed, requireClosed: true }).ok).toBe(true);
    const lines = text.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
    const dropped = lines.find((l) => l.type === "dropped");
    expect(dropped.count).toBe(200 - lines.filter((l) => l.type === "event").length);
  });

  test("commit is all or nothing: lines the full file takes only in part are cut off, followers see none, the refusal waits", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(dir, "commit.log");
    const w = AuditWriter.open({ path });
    const seen: string[] = [];
    w.subscribe((l) => seen.push(l));
    const ev = (i: number) => ({ actor: "admin-socket", via: "admin", action: "cred.put", target: "c", result: "ok" as const, value_hash: "hmac-sha256:" + "h".repeat(43) + i });
    expect(w.commit([ev(0), ev(1)], { action: "cred.put", result: "error", reason: "unavailable" })).toBe(true);
    expect(seen.length).toBe(2);
    fill("filler4");
    try {
      // The file's last page still has room for a few lines: commit until the file refuses.
      let refused = false;
      for (let i = 0; i < 400 && !refused; i++) {
        const size = statSync(path).size;
        const n = seen.length;
        if (!w.commit([ev(10 * i), ev(10 * i + 1), ev(10 * i + 2)], { actor: "admin-socket", action: "cred.put", target: "c", result: "error", reason: "unavailable" })) {
          refused = true;
          // Nothing of the refused lines is left in the file; the (shorter) refusal is there or waits.
          const text = readFileSync(path);
          expect(text.at(-1)).toBe(0x0a);
          if (text.length > size) expect(JSON.parse(text.subarray(size, text.length - 1).toString())).toMatchObject({ result: "error", reason: "unavailable" });
          expect(seen.length).toBeLessThanOrEqual(n + 1);
          expect(seen.slice(n).every((l) => l.includes('"reason":"unavailable"'))).toBe(true);
          expect(w.status().pendingLines + (text.length > size ? 1 : 0)).toBe(1);
        }
      }
      expect(refused).toBe(true);
    } finally {
      unlinkSync(join(dir, "filler4"));
    }
    w.tick();
    expect(w.healthy).toBe(true);
    expect(w.close()).toBe(true);
    const text = readFileSync(path);
    expect(verifyAuditLog(text, { requireClosed: true }).ok).toBe(true);
    const lines = text.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.result === "error").map((l) => l.reason)).toEqual(["unavailable"]);
    expect(lines.filter((l) => l.result === "ok").length % 3).toBe(2); // the first commit's 2 lines, then whole commits of 3
  });

  test("a state file on a full filesystem is overwritten in place: healthy, saved before each seal", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(other, "audit-full-state.log"); // the log has room; the state file's filesystem is full
    const sl = makeSealing(dir);
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 3 });
    expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(1);
    fill("filler3");
    try {
      for (let i = 0; i < 3; i++) w.record({ actor: "w_d", action: "cred.checkout", target: `s${i}`, result: "ok" });
      expect(w.healthy).toBe(true);
      expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(2);
      expect(w.close()).toBe(true);
    } finally {
      unlinkSync(join(dir, "filler3"));
    }
    expect(verifyAuditLog(readFileSync(path), { verifyKey: sl.seed, requireClosed: true })).toMatchObject({ ok: true, nextEpoch: 3 });
  });

  test("a state that cannot be replaced at all: unhealthy, the seal kept out of the log and the old state kept, until it can", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(other, "audit-lost-state.log");
    const stDir = join(other, "st");
    mkdirSync(stDir, { mode: 0o700 });
    const sl = makeSealing(stDir);
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 3 });
    renameSync(stDir, stDir + ".away"); // the name leads nowhere: no new file, and writing in place would save nothing
    for (let i = 0; i < 3; i++) w.record({ actor: "w_d", action: "cred.checkout", target: `s${i}`, result: "ok" });
    expect(w.healthy).toBe(false);
    expect(w.status().lastError).toBe("audit state file: ENOENT");
    const lines = () => readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines().filter((l) => l.type === "seal").map((l) => l.epoch)).toEqual([0]); // the seal of epoch 1 waits
    expect(lines().filter((l) => l.type === "event").length).toBe(3);
    renameSync(stDir + ".away", stDir);
    w.tick();
    expect(w.healthy).toBe(true);
    expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(2);
    expect(lines().filter((l) => l.type === "seal").map((l) => l.epoch)).toEqual([0, 1]);
    expect(w.close()).toBe(true);
    expect(verifyAuditLog(readFileSync(path), { verifyKey: sl.seed, requireClosed: true })).toMatchObject({ ok: true, nextEpoch: 3 });
  });

  test("a state that cannot be replaced when the run ends: no stop line, the old state kept, --closed fails", () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const path = join(other, "audit-close.log");
    const stDir = join(other, "st2");
    mkdirSync(stDir, { mode: 0o700 });
    const sl = makeSealing(stDir);
    const w = AuditWriter.open({ path, sealing: sl.load() });
    w.record({ actor: "w_d", action: "cred.checkout", target: "s", result: "ok" });
    renameSync(stDir, stDir + ".away");
    expect(w.close()).toBe(false);
    renameSync(stDir + ".away", stDir);
    const text = readFileSync(path, "utf8");
    expect(text).not.toContain('"type":"stop"');
    expect(parseSealStateFile(readFileSync(sl.path, "utf8")).epoch).toBe(1); // epoch 1 never sealed anything
    expect(verifyAuditLog(text, { verifyKey: sl.seed, requireClosed: true }).ok).toBe(false);
    expect(verifyAuditLog(text, { verifyKey: sl.seed })).toMatchObject({ ok: true, nextEpoch: 1, unsealedTail: 1 });
  });
});
