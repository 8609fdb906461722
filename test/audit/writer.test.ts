/**
 * src/audit writer, reader and hashes, and the sealed box of src/crypto:
 * real files in a temp dir, an injected clock.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import * as c from "../../src/crypto/index.ts";
import { BOX_OVERHEAD, openBox, sealBox } from "../../src/crypto/box.ts";
import {
  AUDIT_TABLE_HEADER,
  AuditWriter,
  ChainFollower,
  LineSplitter,
  SealStateFile,
  ZERO_PREV,
  auditHash,
  auditHmacKeyId,
  deriveAuditHmacKey,
  escapeForTerminal,
  formatAuditRow,
  isAuditHash,
  lineHash,
  heartbeatLine,
  matchAuditLine,
  parseAuditLine,
  parseHeartbeat,
  parseSealStateFile,
  readFileLines,
  verifyAuditLog,
  type AuditLine,
} from "../../src/audit/index.ts";

import { makeSealing } from "./_sealing.ts";
import { tempDir } from "../_tmp.ts";

const root = tempDir("hush-audit-w-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let file: string;
let t: number;
const now = () => t;
beforeEach(() => {
  file = join(root, `a${n++}.log`);
  t = 1_700_000_000_000;
});

const readLines = (p = file) => readFileSync(p, "utf8").trimEnd().split("\n");
const parsed = (p = file) => readLines(p).map((l) => JSON.parse(l));

describe("AuditWriter: file and chain", () => {
  test("creates the file 0600; lines are chained from 32 zero bytes", () => {
    const w = AuditWriter.open({ path: file, now });
    expect(w.record({ actor: "w_a", via: "worker", action: "kv.get", target: "app/x", result: "ok", corr_id: "c1" })).toBe(2);
    w.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const ls = readLines();
    const o = ls.map((l) => JSON.parse(l));
    expect(o.map((x) => x.type)).toEqual(["start", "event", "stop"]);
    expect(o.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(o[0].prev).toBe(ZERO_PREV);
    expect(Object.keys(o[1])).toEqual(["seq", "ts", "type", "prev", "actor", "via", "action", "target", "result", "corr_id"]);
    for (let i = 1; i < ls.length; i++) expect(o[i].prev).toBe(lineHash(ls[i - 1]));
    expect(verifyAuditLog(readFileSync(file))).toMatchObject({ ok: true, lines: 3, runs: 1, closed: true, sealsChecked: false });
  });

  test("a new run continues seq and prev of an existing file", () => {
    AuditWriter.open({ path: file, now }).close();
    const w = AuditWriter.open({ path: file, now });
    w.record({ action: "join", result: "ok" });
    w.close();
    const o = parsed();
    expect(o.map((x) => `${x.seq}:${x.type}`)).toEqual(["1:start", "2:stop", "3:start", "4:event", "5:stop"]);
    expect(verifyAuditLog(readFileSync(file))).toMatchObject({ ok: true, runs: 2, lines: 5 });
  });

  test("one writer per file: a second is refused while the first runs; it continues after a run that crashed (no stop line)", () => {
    const w1 = AuditWriter.open({ path: file, now });
    w1.record({ action: "a", result: "ok" }); // never closed
    const size = statSync(file).size;
    expect(() => AuditWriter.open({ path: file, now })).toThrow(new RegExp(`audit file ${file} is in use by another hush daemon \\(pid ${process.pid}\\)`));
    expect(statSync(file).size).toBe(size);
    closeSync((w1 as any).fd); // the crash: the kernel closes the run's descriptor, and its lock goes with it
    AuditWriter.open({ path: file, now }).close();
    const r = verifyAuditLog(readFileSync(file));
    expect(r).toMatchObject({ ok: true, runs: 2, closed: true });
    expect(r.unsealed).toEqual([{ from: 1, to: 2 }, { from: 3, to: 4 }]);
  });

  test("refuses a symlink, a directory, an incomplete last line, a non-audit file", () => {
    const target = join(root, `target${n}`);
    writeFileSync(target, "");
    symlinkSync(target, file);
    expect(() => AuditWriter.open({ path: file })).toThrow(/symbolic link/);
    const dir = join(root, `dir${n}`);
    mkdirSync(dir);
    expect(() => AuditWriter.open({ path: dir })).toThrow(/not a regular file/);
    const cut = join(root, `cut${n}`);
    AuditWriter.open({ path: cut, now }).close();
    appendFileSync(cut, '{"seq":3,"ts":1,');
    expect(() => AuditWriter.open({ path: cut })).toThrow(/incomplete line/);
    const other = join(root, `other${n}`);
    writeFileSync(other, "hello\n");
    expect(() => AuditWriter.open({ path: other })).toThrow(/not an audit line/);
  });

  test("tightens a group/world-readable file to 0600 and says so", () => {
    writeFileSync(file, "");
    chmodSync(file, 0o644);
    const w = AuditWriter.open({ path: file, now });
    w.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(w.warnings[0]).toContain("changed to 600");
  });

  test("mask hook and length cap on every string field; start fields cannot override the frame", () => {
    const SECRET = "hunter2-" + crypto.randomUUID();
    const w = AuditWriter.open({ path: file, now, mask: (s) => s.split(SECRET).join("***"), start: { version: "1.2.3", seq: 99, key: "x" } });
    w.record({ actor: SECRET, via: SECRET, action: "x" + SECRET, target: "t/" + SECRET, result: "denied", reason: SECRET, corr_id: SECRET });
    w.record({ action: "long", target: "x".repeat(5000), result: "ok" });
    w.close();
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(SECRET);
    const o = parsed();
    expect(o[0]).toMatchObject({ seq: 1, version: "1.2.3" });
    expect(o[0].key).toBeUndefined();
    expect(o[1]).toMatchObject({ actor: "***", action: "x***", target: "t/***" });
    expect(o[2].target.length).toBe(512);
  });

  test("subscribers get each line once it is in the file", () => {
    const got: string[] = [];
    const w = AuditWriter.open({ path: file, now });
    const off = w.subscribe((l) => got.push(l));
    w.record({ action: "a", result: "ok" });
    off();
    w.record({ action: "b", result: "ok" });
    w.close();
    expect(got).toEqual([readLines()[1]]);
  });
});

describe("AuditWriter: aggregation of identical failures", () => {
  test("first written at once, repeats within a second become one line with count", () => {
    const w = AuditWriter.open({ path: file, now });
    const ev = { actor: "w_x", via: "worker", action: "auth", target: "/v1/kv", result: "denied" as const, reason: "bad_signature" };
    expect(w.record(ev)).toBe(2);
    for (let i = 0; i < 500; i++) {
      t += 1;
      expect(w.record(ev)).toBeNull();
    }
    w.record({ ...ev, reason: "stale_timestamp" }); // a different failure is its own line
    w.record({ action: "kv.get", result: "ok" });
    w.record({ action: "kv.get", result: "ok" }); // successes are never folded
    t += 1000;
    w.tick();
    w.record(ev); // a new window
    w.close();
    const o = parsed();
    expect(o.map((x) => [x.type, x.reason ?? null, x.count ?? null, x.repeat_of ?? null])).toEqual([
      ["start", null, null, null],
      ["event", "bad_signature", null, null],
      ["event", "stale_timestamp", null, null],
      ["event", null, null, null],
      ["event", null, null, null],
      ["event", "bad_signature", 500, 2],
      ["event", "bad_signature", null, null],
      ["stop", null, null, null],
    ]);
    expect(verifyAuditLog(readFileSync(file)).ok).toBe(true);
  });

  test("pending counts are written on close", () => {
    const w = AuditWriter.open({ path: file, now });
    for (let i = 0; i < 3; i++) w.record({ actor: "1.2.3.4", action: "join", result: "denied", reason: "rate_limited" });
    w.close();
    expect(parsed().map((x) => x.count ?? null)).toEqual([null, null, 2, null]);
  });
});

describe("AuditWriter: sealing (format 2)", () => {
  test("start + start seal; seals every N lines and after T; epochs go on; closing seal; every MAC from the seed", () => {
    const sl = makeSealing(root);
    const w = AuditWriter.open({ path: file, now, sealing: sl.load(), sealEvery: 3, sealIntervalMs: 5000 });
    for (let i = 0; i < 4; i++) w.record({ action: `e${i}`, result: "ok" });
    t += 4999;
    w.tick();
    expect(parsed().filter((x) => x.type === "seal").length).toBe(2);
    t += 1;
    w.tick();
    expect(parsed().filter((x) => x.type === "seal").length).toBe(3);
    t += 60_000;
    w.tick(); // nothing unsealed: no empty seal
    expect(w.close()).toBe(true);
    const ls = readLines();
    const o = ls.map((l) => JSON.parse(l));
    expect(o.map((x) => x.type)).toEqual(["start", "seal", "event", "event", "event", "seal", "event", "seal", "stop", "seal"]);
    expect(o[0]).toMatchObject({ v: 2, key_id: sl.keyId, epoch: 0, seal_every: 3, seal_interval_ms: 5000 });
    expect(Object.keys(o[1])).toEqual(["seq", "ts", "type", "prev", "key_id", "epoch", "mac"]);
    // Recompute every MAC from the seed: S_0 = HKDF(seed), K_n = HMAC(S_n, …), S_{n+1} = HMAC(S_n, …).
    let s = c.hkdfSha256(sl.seed, undefined, "hush/2 audit state 0", 32);
    let e = 0;
    for (const x of o.filter((x) => x.type === "seal")) {
      expect(x).toMatchObject({ epoch: e++, key_id: sl.keyId });
      const k = c.hmacSha256(s, "hush/2 audit seal key");
      expect(x.mac).toBe(c.toB64u(c.hmacSha256(k, `HUSH2-SEAL\n${sl.keyId}\n${x.seq}\n${x.epoch}\n${x.prev}\n${x.ts}`)));
      s = c.hmacSha256(s, "hush/2 audit evolve");
    }
    // The state file now holds S_4 (epoch 4), and nothing older.
    const st = parseSealStateFile(readFileSync(sl.path, "utf8"));
    expect(st).toMatchObject({ epoch: 4, keyId: sl.keyId });
    expect(c.toHex(st.state)).toBe(c.toHex(s));
    expect(verifyAuditLog(readFileSync(file), { verifyKey: sl.seed, requireClosed: true })).toMatchObject({
      ok: true,
      seals: 4,
      sealsChecked: true,
      lastSealedSeq: 10,
      unsealedTail: 0,
      closed: true,
      nextEpoch: 4,
      vouched: { toSeq: 10, epochs: { from: 0, to: 3 } },
    });
  });

  test("the next run starts where the state file is; the state file is rewritten 0600 and no temp file is left", () => {
    const sl = makeSealing(root);
    for (let run = 0; run < 3; run++) {
      const w = AuditWriter.open({ path: file, now, sealing: sl.load(), sealEvery: 2 });
      for (let i = 0; i < 3; i++) w.record({ action: `r${run}e${i}`, result: "ok" });
      expect(w.close()).toBe(true);
    }
    const starts = parsed().filter((x) => x.type === "start");
    const seals = parsed().filter((x) => x.type === "seal");
    expect(starts.map((x) => x.epoch)).toEqual([0, 3, 6]); // start seal, one after 2 events, closing seal
    expect(seals.map((x) => x.epoch)).toEqual(Array.from({ length: 9 }, (_, i) => i));
    expect(statSync(sl.path).mode & 0o777).toBe(0o600);
    expect(readdirSync(root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(verifyAuditLog(readFileSync(file), { verifyKey: sl.seed, requireClosed: true })).toMatchObject({ ok: true, runs: 3, nextEpoch: 9 });
  });

  test("a crash between a seal and the save of the state: the next run moves past the used epoch", () => {
    const sl = makeSealing(root);
    const before = readFileSync(sl.path, "utf8");
    const w = AuditWriter.open({ path: file, now, sealing: sl.load(), sealEvery: 100 });
    w.record({ action: "a", result: "ok" });
    w.close();
    // Put back the state as it was before the run (as if every save had been lost).
    writeFileSync(sl.path, before, { mode: 0o600 });
    const w2 = AuditWriter.open({ path: file, now, sealing: sl.load() });
    expect(w2.warnings.join()).toContain("moved the state on to epoch 2");
    w2.close();
    expect(parsed().filter((x) => x.type === "seal").map((x) => x.epoch)).toEqual([0, 1, 2, 3]);
    expect(verifyAuditLog(readFileSync(file), { verifyKey: sl.seed, requireClosed: true }).ok).toBe(true);
  });

  test("a log sealed with another key is refused; a state ahead of the log is reported", () => {
    const a = makeSealing(root);
    AuditWriter.open({ path: file, now, sealing: a.load() }).close();
    const b = makeSealing(root);
    const size = statSync(file).size;
    expect(() => AuditWriter.open({ path: file, now, sealing: b.load() })).toThrow(/sealed with another audit key/);
    expect(statSync(file).size).toBe(size); // nothing written
    // Cut the closing seal and the stop line off: the state (epoch 2) is ahead of the log's last seal (epoch 0).
    const ls = readLines();
    writeFileSync(file, ls.slice(0, 2).join("\n") + "\n");
    const w = AuditWriter.open({ path: file, now, sealing: a.load() });
    expect(w.warnings.join()).toContain("the seal of epoch 1 was never written");
    w.close();
    // One epoch: a crash between replacing the state and writing its seal, or a cut; named, and --closed fails.
    const r = verifyAuditLog(readFileSync(file), { verifyKey: a.seed });
    expect(r).toMatchObject({ ok: true, skippedEpochs: [{ epoch: 1, beforeSeq: 3 }] });
    expect(verifyAuditLog(readFileSync(file), { verifyKey: a.seed, requireClosed: true }).error?.reason).toMatch(/without a stop line|epoch 1 was skipped/);
  });

  test("an open run reports its unsealed tail and its missing stop line", () => {
    const sl = makeSealing(root);
    const w = AuditWriter.open({ path: file, now, sealing: sl.load(), sealEvery: 4 });
    for (let i = 0; i < 6; i++) w.record({ action: `e${i}`, result: "ok" });
    const r = verifyAuditLog(readFileSync(file), { verifyKey: sl.seed });
    expect(r).toMatchObject({ ok: true, lastSealedSeq: 7, lastSeq: 9, unsealedTail: 2, closed: false, notStopped: [{ from: 1, to: 9 }] });
    expect(r.unsealed).toEqual([{ from: 8, to: 9 }]);
    expect(verifyAuditLog(readFileSync(file), { verifyKey: sl.seed, requireClosed: true }).error?.seq).toBe(9);
    w.close();
  });

  test("followers get every line, then onClose after the stop line and closing seal; healthy is false once closed", () => {
    const sl = makeSealing(root);
    const w = AuditWriter.open({ path: file, now, sealing: sl.load() });
    const got: string[] = [];
    w.subscribe((l) => got.push(JSON.parse(l).type), () => got.push("<closed>"));
    w.record({ action: "a", result: "ok" });
    expect(w.close()).toBe(true);
    expect(got).toEqual(["event", "stop", "seal", "<closed>"]);
    expect(w.healthy).toBe(false);
    let late = false;
    w.subscribe(() => {}, () => (late = true));
    return Bun.sleep(0).then(() => expect(late).toBe(true));
  });
});

describe("sealing state file", () => {
  test("refused when it is a symlink, not ours, too open, missing, or not a state", () => {
    const sl = makeSealing(root);
    const link = join(root, "link-state");
    symlinkSync(sl.path, link);
    expect(() => SealStateFile.load(link)).toThrow(/symbolic link/);
    chmodSync(sl.path, 0o640);
    expect(() => SealStateFile.load(sl.path)).toThrow(/mode 640: others may have read it/);
    chmodSync(sl.path, 0o600);
    expect(() => SealStateFile.load(join(root, "nope"))).toThrow(/does not exist; make it with: hush keygen audit/);
    const bad = join(root, "bad-state");
    writeFileSync(bad, "HUSH-AUDIT-KEY-1QQQQQQ\n", { mode: 0o600 });
    expect(() => SealStateFile.load(bad)).toThrow(/audit state file/);
    if (process.getuid?.() === 0) {
      chownSync(sl.path, 65534, 65534);
      expect(() => SealStateFile.load(sl.path)).toThrow(/owned by uid 65534, but hush serve runs as uid 0: chown it/);
    } else console.warn("skipped the ownership check: needs root to chown");
  });

  test("a state file that cannot be rewritten stops the start before the audit file is touched", () => {
    const sl = makeSealing(root);
    const st = sl.load();
    rmSync(sl.path);
    mkdirSync(sl.path); // the rename over it fails
    expect(() => AuditWriter.open({ path: file, now, sealing: st })).toThrow(/cannot rewrite audit state file .* \(EISDIR\)/);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  test("persist replaces the file atomically, zeroes the old file's bytes, and erases a temp file left by a crash", () => {
    const sl = makeSealing(root);
    const tmp = join(root, `.${sl.path.split("/").pop()}.tmp`);
    writeFileSync(tmp, "stale state from a crash", { mode: 0o600 });
    const s = sl.load();
    expect(existsSync(tmp)).toBe(false);
    const keep = openSync(sl.path, "r"); // the old inode, as another reader would hold it
    s.advance();
    s.persist();
    const old = Buffer.alloc(64);
    readSync(keep, old, 0, 64, 0);
    closeSync(keep);
    expect(old.every((b) => b === 0)).toBe(true);
    expect(parseSealStateFile(readFileSync(sl.path, "utf8"))).toMatchObject({ epoch: 1, keyId: sl.keyId });
    expect(existsSync(tmp)).toBe(false);
  });
});

describe("sealed box (src/crypto/box.ts)", () => {
  test("round trip; 80 bytes for a 32-byte key; fresh ephemeral key each time", () => {
    const r = c.generateX25519();
    const k = c.randomBytes(32);
    const a = sealBox(r.publicKey, k, "audit k0");
    const b = sealBox(r.publicKey, k, "audit k0");
    expect(a.length).toBe(32 + BOX_OVERHEAD);
    expect(c.toHex(a)).not.toBe(c.toHex(b));
    expect(c.toHex(openBox(r.secretKey, a, "audit k0"))).toBe(c.toHex(k));
  });
  test("refuses a wrong key, a wrong context, any flipped bit, a low-order ephemeral key", () => {
    const r = c.generateX25519();
    const box = sealBox(r.publicKey, c.randomBytes(32), "audit k0");
    expect(() => openBox(c.generateX25519().secretKey, box, "audit k0")).toThrow();
    expect(() => openBox(r.secretKey, box, "other")).toThrow();
    for (let i = 0; i < box.length; i += 7) {
      const x = box.slice();
      x[i] ^= 1;
      expect(() => openBox(r.secretKey, x, "audit k0")).toThrow();
    }
    const low = box.slice();
    low.fill(0, 0, 32);
    expect(() => openBox(r.secretKey, low, "audit k0")).toThrow();
    expect(() => sealBox(new Uint8Array(32), c.randomBytes(32), "audit k0")).toThrow();
  });
  test("matches the documented construction, recomputed with @noble", () => {
    const r = c.generateX25519();
    const box = sealBox(r.publicKey, c.utf8("0123456789abcdef0123456789abcdef"), "audit k0");
    const epk = box.subarray(0, 32);
    const ss = c.x25519Noble.shared(r.secretKey, epk);
    const key = c.hkdfSha256(ss, c.concatBytes(epk, r.publicKey), "hush/1 box audit k0", 32);
    expect(c.fromUtf8(c.openChaCha(key, new Uint8Array(12), box.subarray(32)))).toBe("0123456789abcdef0123456789abcdef");
  });
});

describe("audit hash", () => {
  test("hmac-sha256: + b64u(HMAC-SHA256(key, value)); per-key; stable id", () => {
    const k1 = deriveAuditHmacKey(c.utf8("a configured secret of 32 bytes!"));
    const k2 = c.randomBytes(32);
    const h = auditHash("p@ss", k1);
    expect(h).toBe("hmac-sha256:" + c.toB64u(c.hmacSha256(k1, c.utf8("p@ss"))));
    expect(isAuditHash(h)).toBe(true);
    expect(auditHash("p@ss", k1)).toBe(h);
    expect(auditHash("p@ss", k2)).not.toBe(h);
    expect(h).not.toContain("p@ss");
    expect(auditHmacKeyId(k1)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(() => auditHash("x", new Uint8Array(8))).toThrow();
  });
});

describe("reader", () => {
  const ev = (o: Partial<AuditLine>): AuditLine => ({ seq: 5, ts: 0, type: "event", prev: ZERO_PREV, action: "cred.checkout", actor: "w_a", result: "ok", ...o });
  test("filters: since (inclusive), actor, action (exact or prefix*), result", () => {
    expect(matchAuditLine(ev({}), { since: 5 })).toBe(true);
    expect(matchAuditLine(ev({}), { since: 6 })).toBe(false);
    expect(matchAuditLine(ev({}), { actor: "w_a", action: "cred.*", result: "ok" })).toBe(true);
    expect(matchAuditLine(ev({}), { action: "cred" })).toBe(false);
    expect(matchAuditLine(ev({}), { result: "denied" })).toBe(false);
    expect(matchAuditLine(ev({ type: "seal" }), { since: 1 })).toBe(true);
    expect(matchAuditLine(ev({ type: "seal" }), { actor: "w_a" })).toBe(false);
    expect(parseAuditLine("nope")).toBeNull();
    expect(parseAuditLine('{"seq":"1","type":"x"}')).toBeNull();
  });
  test("table rows are colour-free and escape terminal controls", () => {
    const row = formatAuditRow(ev({ target: "evil\x1b[31m\u202e", reason: "x\ny", count: 3, repeat_of: 2 }));
    expect(row).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e]/);
    expect(row).toContain("evil\\u001b[31m\\u202e");
    expect(row).toContain("repeated 3x more (first: seq 2)");
    expect(AUDIT_TABLE_HEADER.startsWith("SEQ")).toBe(true);
    expect(formatAuditRow({ seq: 9, ts: 0, type: "seal", prev: "", epoch: 3 })).toContain("seal, epoch 3");
    expect(escapeForTerminal("\u0085ok")).toBe("\\u0085ok");
  });
  test("heartbeats: not audit lines; parsed only in their own shape", () => {
    const hb = heartbeatLine(41, 1_700_000_000_123.7);
    expect(hb).toBe('{"type":"heartbeat","ts":1700000000123,"last_seq":41}');
    expect(parseHeartbeat(hb)).toEqual({ ts: 1_700_000_000_123, last_seq: 41 });
    expect(parseAuditLine(hb)).toBeNull();
    expect(parseHeartbeat('{"type":"heartbeat","ts":1,"last_seq":2,"seq":3}')).toBeNull();
    expect(parseHeartbeat('{"seq":1,"ts":1,"type":"heartbeat","prev":""}')).toBeNull();
    expect(parseHeartbeat("")).toBeNull();
  });
  test("a start row says how the run is sealed", () => {
    expect(formatAuditRow({ seq: 1, ts: 0, type: "start", prev: "", key_id: "AAAAAAAAAAAA", epoch: 7 })).toContain("sealed from epoch 7 (key id AAAAAAAAAAAA)");
    expect(formatAuditRow({ seq: 1, ts: 0, type: "start", prev: "", key: "x" })).toContain("sealed (format 1)");
    expect(formatAuditRow({ seq: 1, ts: 0, type: "start", prev: "" })).toContain("not sealed");
  });
  test("LineSplitter keeps partial lines; ChainFollower catches a gap", () => {
    const s = new LineSplitter();
    expect(s.push("a\nb")).toEqual(["a"]);
    expect(s.push(c.utf8("c\n"))).toEqual(["bc"]);
    const w = AuditWriter.open({ path: file, now });
    w.record({ action: "a", result: "ok" });
    w.close();
    const ls = readLines();
    const f = new ChainFollower();
    f.check(ls[0], parseAuditLine(ls[0])!);
    expect(() => f.check(ls[2], parseAuditLine(ls[2])!)).toThrow(/seq 3 follows seq 1/);
  });
  test("readFileLines follows a growing file", async () => {
    const w = AuditWriter.open({ path: file, now });
    const got: number[] = [];
    const ac = new AbortController();
    const done = readFileLines(file, (l) => got.push(parseAuditLine(l)!.seq), { follow: true, pollMs: 10, signal: ac.signal });
    await Bun.sleep(30);
    w.record({ action: "a", result: "ok" });
    w.record({ action: "b", result: "ok" });
    for (let i = 0; i < 100 && got.length < 3; i++) await Bun.sleep(10);
    ac.abort();
    expect(await done).toBe(readFileSync(file).length);
    expect(got).toEqual([1, 2, 3]);
    w.close();
  });
});
