/**
 * The tamper suite (PROTOCOL.md §9, DESIGN.md invariant 6) on real files
 * written by AuditWriter with format-2 sealing: change one byte, delete a
 * line, insert a line, swap two lines, truncate after a seal, drop a seal,
 * replay a seal from another epoch or run, splice two runs — each detected,
 * with the right seq.
 *
 * Two attackers: a naive one edits bytes and leaves `seq`/`prev` as they are
 * (the chain alone catches it, no key needed); a careful one re-numbers `seq`
 * and recomputes every `prev` afterwards (`rechain`). Only the seals catch the
 * careful one, at the first seal after the edit — which is why it needs the
 * verification key, and why the lines after the last seal stay unprotected.
 * A third one holds the daemon's sealing state of today ("stolen state"):
 * see the last describe block, and test/audit/attacks.test.ts for the same
 * through the binary.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "../../src/crypto/index.ts";
import { AuditWriter, ZERO_PREV, lineHash, parseSealStateFile, sealMacV2, verifyAuditLog, type VerifyOptions } from "../../src/audit/index.ts";
import { makeSealing, type Sealing } from "./_sealing.ts";
import { appendFabricatedRun, rechainAndReseal } from "./_attack.ts";
import { tempDir } from "../_tmp.ts";

const root = tempDir("hush-audit-t-");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SL = makeSealing(root);
const KEY = { verifyKey: SL.seed };
let clock = 1_700_000_000_000;

/** A file of `runs` daemon runs (sealed every 4 lines), written by AuditWriter with one sealing state. */
function writeLog(name: string, runs: number[], sl: Sealing = SL): string {
  const path = join(root, name);
  for (const events of runs) {
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 4, now: () => clock });
    for (let i = 0; i < events; i++) {
      clock += 7;
      const actor = `w_${"abcdefgh"[i % 8]}`;
      w.record(i % 3 ? { actor, via: "worker", action: "kv.get", target: `k${i}`, result: "ok" } : { actor, via: "worker", action: "auth", result: "denied", reason: `r${i}` });
    }
    expect(w.close()).toBe(true);
  }
  return readFileSync(path, "utf8");
}

const FILE = writeLog("main.log", [10, 9, 6]);
const LINES = split(FILE);
const O = LINES.map((l) => JSON.parse(l));

function split(text: string): string[] {
  return text.trimEnd().split("\n");
}
const join_ = (ls: string[]) => ls.join("\n") + "\n";
/** The careful attacker: renumber seq from 1 and recompute every prev. */
function rechain(ls: string[]): string[] {
  let prev = ZERO_PREV;
  return ls.map((l, i) => {
    const o = JSON.parse(l);
    o.seq = i + 1;
    o.prev = prev;
    const s = JSON.stringify(o);
    prev = lineHash(s);
    return s;
  });
}
const v = (ls: string[] | string, opts: VerifyOptions = {}) => verifyAuditLog(typeof ls === "string" ? ls : join_(ls), opts);
const idx = (seq: number) => seq - 1;
/** seq of the first seal after `seq` in `ls`. */
function nextSeal(ls: string[], seq: number): number {
  for (let i = seq; i < ls.length; i++) if (JSON.parse(ls[i]).type === "seal") return i + 1;
  throw new Error("no seal after " + seq);
}
const seals = O.filter((o) => o.type === "seal");
const starts = O.filter((o) => o.type === "start").map((o) => o.seq);
const EV = O.find((o) => o.type === "event" && o.action === "kv.get" && o.seq > 6)!.seq; // an event in a sealed region of run 1
const STOLEN = parseSealStateFile(readFileSync(SL.path, "utf8")); // the state file after the last run

function expectBreak(r: ReturnType<typeof v>, seq: number, reason?: RegExp) {
  expect(r.ok).toBe(false);
  expect(r.error?.seq).toBe(seq);
  if (reason) expect(r.error!.reason).toMatch(reason);
}

describe("an untouched file", () => {
  test("verifies with the key, without it, and as a closed file", () => {
    expect(v(FILE, { ...KEY, requireClosed: true })).toMatchObject({
      ok: true,
      runs: 3,
      lines: LINES.length,
      seals: seals.length,
      sealsChecked: true,
      unsealedTail: 0,
      closed: true,
      unsealed: [],
      notStopped: [],
      nextEpoch: seals.length,
      vouched: { toSeq: LINES.length, epochs: { from: 0, to: seals.length - 1 } },
    });
    expect(seals.map((o) => o.epoch)).toEqual(seals.map((_, i) => i)); // one chain of epochs across runs
    expect(v(FILE)).toMatchObject({ ok: true, sealsChecked: false, lastSealedSeq: LINES.length, vouched: null });
    expect(v(FILE).warnings.join()).toContain("CHAIN ONLY: seals were not checked");
    expect(v(FILE, KEY).warnings).toEqual([]);
    expect(starts.length).toBe(3);
  });
});

describe("change one byte", () => {
  test("in an event: the changed line's seq (chain, no key needed)", () => {
    const ls = LINES.slice();
    ls[idx(EV)] = ls[idx(EV)].replace('"kv.get"', '"kv.gex"');
    expectBreak(v(ls), EV, /was changed/);
    expectBreak(v(ls, KEY), EV);
  });
  test("re-chained: the first seal after it (key needed)", () => {
    const ls = LINES.slice();
    ls[idx(EV)] = ls[idx(EV)].replace('"kv.get"', '"kv.gex"');
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true); // the chain alone cannot see it
    expectBreak(v(rc, KEY), nextSeal(rc, EV), new RegExp(`does not verify: a line in seq \\d+\\.\\.${nextSeal(rc, EV) - 1}`));
  });
  test("every single-bit flip anywhere in the file is detected with the key; without it, anywhere but the last line", () => {
    const bytes = new TextEncoder().encode(FILE);
    const lastLineStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    let missed = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes.slice();
      b[i] ^= 1;
      if (verifyAuditLog(b, KEY).ok) missed++;
      if (i < lastLineStart) expect(verifyAuditLog(b).ok).toBe(false);
    }
    expect(missed).toBe(0);
  });
});

describe("delete a line", () => {
  test("the missing seq", () => {
    const ls = LINES.filter((_, i) => i !== idx(EV));
    expectBreak(v(ls), EV, new RegExp(`seq ${EV} missing`));
  });
  test("re-chained: the first seal after it", () => {
    const rc = rechain(LINES.filter((_, i) => i !== idx(EV)));
    expect(v(rc).ok).toBe(true);
    expectBreak(v(rc, KEY), nextSeal(LINES, EV) - 1);
  });
});

describe("insert a line", () => {
  const forged = (seq: number, prev: string) => JSON.stringify({ seq, ts: O[idx(seq)].ts, type: "event", prev, actor: "w_z", action: "kv.get", result: "ok" });
  test("well-formed, with the next seq and a correct prev: that seq appears twice", () => {
    const ls = LINES.slice();
    ls.splice(idx(EV), 0, forged(EV, O[idx(EV)].prev));
    expectBreak(v(ls), EV, /appears twice/);
  });
  test("a copy of another line: the seq expected there", () => {
    const ls = LINES.slice();
    ls.splice(idx(EV), 0, LINES[1]);
    expectBreak(v(ls), EV, /inserted/);
  });
  test("re-chained: the first seal after it", () => {
    const ls = LINES.slice();
    ls.splice(idx(EV), 0, forged(EV, ZERO_PREV));
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true);
    expectBreak(v(rc, KEY), nextSeal(LINES, EV) + 1);
  });
  test("an event after a run's stop line is refused even without the key", () => {
    const stop = O.find((o) => o.type === "stop")!.seq;
    const ls = LINES.slice();
    ls.splice(stop, 0, forged(stop + 1, ZERO_PREV));
    expectBreak(v(rechain(ls)), stop + 1, /after the run's stop line/);
  });
});

describe("swap two lines", () => {
  test("the first of the two", () => {
    const ls = LINES.slice();
    [ls[idx(EV)], ls[idx(EV) + 1]] = [ls[idx(EV) + 1], ls[idx(EV)]];
    expectBreak(v(ls), EV);
  });
  test("re-chained: the first seal after them", () => {
    const ls = LINES.slice();
    const a = O.findIndex((o, i) => i > 0 && o.type === "event" && O[i + 1].type === "event");
    [ls[a], ls[a + 1]] = [ls[a + 1], ls[a]];
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true);
    expectBreak(v(rc, KEY), nextSeal(LINES, a + 1));
  });
});

describe("truncate after a seal", () => {
  const cut = seals[1].seq; // the second seal of run 1: runs 2 and 3 are cut away
  test("a file that must be closed: the seq it ends at", () => {
    const ls = LINES.slice(0, cut);
    expectBreak(v(ls, { ...KEY, requireClosed: true }), cut, /without its run's stop line and closing seal: it was truncated/);
    // Without requireClosed it looks like a live daemon: every line sealed, run still open.
    expect(v(ls, KEY)).toMatchObject({ ok: true, closed: false, lastSealedSeq: cut, unsealedTail: 0 });
  });
  test("with a forged stop and closing seal (the careful attacker has no K_e): that seal", () => {
    const ls = LINES.slice(0, cut);
    const stop = JSON.stringify({ seq: cut + 1, ts: clock, type: "stop", prev: lineHash(ls[cut - 1]) });
    const prev = lineHash(stop);
    const seal = JSON.stringify({ seq: cut + 2, ts: clock, type: "seal", prev, key_id: SL.keyId, epoch: 2, mac: sealMacV2(randomBytes(32), SL.keyId, cut + 2, 2, prev, clock) });
    expect(v([...ls, stop, seal], { requireClosed: true }).ok).toBe(true);
    expectBreak(v([...ls, stop, seal], { ...KEY, requireClosed: true }), cut + 2, /does not verify/);
  });
  test("in the middle of a line: the seq of that line", () => {
    expectBreak(v(FILE.slice(0, FILE.length - 20), KEY), LINES.length, /cut in the middle of a line/);
  });
});

describe("drop a seal", () => {
  const s = seals[1].seq;
  test("the seal's seq", () => {
    expectBreak(v(LINES.filter((_, i) => i !== idx(s))), s, new RegExp(`seq ${s} missing`));
  });
  test("re-chained: the next seal has the wrong epoch (no key needed)", () => {
    const rc = rechain(LINES.filter((_, i) => i !== idx(s)));
    const next = nextSeal(LINES, s) - 1;
    expectBreak(v(rc), next, /seal epoch 2 where 1 was expected/);
    expectBreak(v(rc, KEY), next);
  });
  test("re-chained with the later epochs renumbered: the MAC of the next seal", () => {
    const ls = LINES.filter((_, i) => i !== idx(s)).map((l) => {
      const o = JSON.parse(l);
      if ((o.type === "seal" || o.type === "start") && o.seq > s) o.epoch--;
      return JSON.stringify(o);
    });
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true);
    expectBreak(v(rc, KEY), nextSeal(LINES, s) - 1, /does not verify/);
  });
  test("the closing seal of the last run: a closed file must end with it", () => {
    const ls = LINES.slice(0, -1);
    expectBreak(v(ls, { ...KEY, requireClosed: true }), LINES.length - 1);
    const before = seals[seals.length - 2].seq;
    expect(v(ls, KEY)).toMatchObject({ ok: true, closed: false, lastSealedSeq: before, unsealedTail: LINES.length - 1 - before });
  });
});

describe("replay a seal from another epoch", () => {
  const [s1, s2] = [seals[0].seq, seals[1].seq];
  test("copied over a later seal: the seq expected there", () => {
    const ls = LINES.slice();
    ls[idx(s2)] = LINES[idx(s1)];
    expectBreak(v(ls), s2, new RegExp(`seq ${s1} where ${s2} was expected`));
  });
  test("re-chained: the epoch no longer matches", () => {
    const ls = LINES.slice();
    ls[idx(s2)] = LINES[idx(s1)];
    expectBreak(v(rechain(ls)), s2, /seal epoch 0 where 1 was expected/);
  });
  test("re-chained with its epoch relabelled: the MAC binds the epoch and position", () => {
    const ls = LINES.slice();
    ls[idx(s2)] = JSON.stringify({ ...JSON.parse(LINES[idx(s1)]), epoch: 1 });
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true);
    expectBreak(v(rc, KEY), s2, /seal of epoch 1 does not verify/);
  });
  test("a seal from another run: epochs count across runs, so it is out of place; relabelled, its MAC fails", () => {
    const first2 = O.find((o) => o.type === "seal" && o.seq > starts[1])!; // run 2's start seal
    const ls = LINES.slice();
    ls[idx(s1)] = LINES[idx(first2.seq)];
    expectBreak(v(rechain(ls)), s1, new RegExp(`seal epoch ${first2.epoch} where 0 was expected`));
    ls[idx(s1)] = JSON.stringify({ ...first2, epoch: 0 });
    const rc = rechain(ls);
    expect(v(rc).ok).toBe(true); // the chain alone is fooled
    expectBreak(v(rc, KEY), s1, /seal of epoch 0 does not verify/);
  });
});

describe("splice two runs", () => {
  const OTHER_SL = makeSealing(root);
  const OTHER = split(writeLog("other.log", [8], OTHER_SL));
  test("another file appended: the seq expected at the joint", () => {
    expectBreak(v([...LINES, ...OTHER]), LINES.length + 1, new RegExp(`seq 1 where ${LINES.length + 1} was expected`));
  });
  test("re-chained: the foreign run's start line names another key (with or without the key)", () => {
    const rc = rechain([...LINES, ...OTHER]);
    expectBreak(v(rc), LINES.length + 1, /sealed with another key/);
    expectBreak(v(rc, KEY), LINES.length + 1, /sealed with another verification key/);
  });
  test("re-chained, cut in the middle of two runs: the first seal after the cut", () => {
    const head = LINES.slice(0, EV);
    const tail = OTHER.slice(4);
    const rc = rechain([...head, ...tail]);
    const firstSealAfter = EV + tail.findIndex((l) => JSON.parse(l).type === "seal") + 1;
    expectBreak(v(rc, KEY), firstSealAfter);
  });
  test("runs of one file put in another order: the chain, then the epochs", () => {
    const [a, b, c] = [LINES.slice(0, starts[1] - 1), LINES.slice(starts[1] - 1, starts[2] - 1), LINES.slice(starts[2] - 1)];
    expectBreak(v([...a, ...c, ...b]), starts[1]);
    expectBreak(v(rechain([...a, ...c, ...b]), KEY), starts[1], /this run starts at epoch \d+ where \d+ was expected: the sealed lines of epochs/);
  });
});

describe("keys and downgrades", () => {
  test("another verification key is refused at the first start line", () => {
    expectBreak(v(FILE, { verifyKey: randomBytes(32) }), 1, /sealed with another verification key/);
  });
  test("a run stripped of its key and seals is refused (after a sealed run: with or without a key)", () => {
    const run2 = LINES.slice(starts[1] - 1, starts[2] - 1)
      .filter((l) => JSON.parse(l).type !== "seal")
      .map((l) => {
        const o = JSON.parse(l);
        delete o.key_id, delete o.epoch, delete o.seal_every, delete o.seal_interval_ms;
        return JSON.stringify(o);
      });
    const rc = rechain([...LINES.slice(0, starts[1] - 1), ...run2, ...LINES.slice(starts[2] - 1)]);
    expectBreak(v(rc, KEY), starts[1], /a downgrade/);
    // The first run stripped: "not sealed" with a key (unless --allow-unsealed; then run 2's epochs do not start at 0).
    const run1 = rechain(LINES.slice(0, starts[1] - 1).filter((l) => JSON.parse(l).type !== "seal").map((l) => JSON.stringify({ ...JSON.parse(l), key_id: undefined, epoch: undefined })));
    expectBreak(v(rechain([...run1, ...LINES.slice(starts[1] - 1)]), KEY), 1, /not sealed \(no key in its start line\) although an audit key was given/);
    // After a format-2 run, an unsealed run is a downgrade: refused with --allow-unsealed and without a key too.
    const only12 = rechain([...LINES.slice(0, starts[1] - 1), ...run2]);
    for (const opts of [{ ...KEY, allowUnsealedRuns: true }, {}]) {
      expectBreak(v(rc, opts), starts[1], /a run without sealing after runs sealed in format 2: a downgrade/);
      expectBreak(v(only12, opts), starts[1], /a run without sealing after runs sealed in format 2: a downgrade/);
    }
  });
  test("a seal in a run without a key is refused", () => {
    const ls = [JSON.stringify({ ...O[0], key_id: undefined, epoch: undefined }), LINES[idx(seals[1].seq)]];
    expectBreak(v(rechain(ls)), 2, /without a sealing key/);
  });
  test("a start line must be followed by its start seal", () => {
    const ls = LINES.filter((_, i) => i !== 1);
    expectBreak(v(rechain(ls)), 2, /must be followed by its start seal/);
  });
  test("a file whose first sealed run does not start at epoch 0 (its beginning replaced) fails, unless --first-epoch says so", () => {
    const run3 = rechain(LINES.slice(starts[2] - 1));
    const e = O[idx(starts[2])].epoch;
    expectBreak(v(run3), 1, new RegExp(`the first sealed run starts at epoch ${e}, not 0: epochs 0..${e - 1} are not in this file`));
    expect(v(run3, { firstEpoch: e }).ok).toBe(true);
    expectBreak(v(run3, { ...KEY, firstEpoch: e }), 2, /does not verify/); // re-chained: its seals no longer match
  });
});

describe("an attacker with the log, today's sealing state file and every public key, but not the verification key", () => {
  test("edits a sealed event of a stopped run, re-chains and re-seals every run with the stolen state: refused", () => {
    const ls = LINES.slice();
    ls[idx(EV)] = ls[idx(EV)].replace('"actor":"w_', '"actor":"w_evil');
    for (const renumber of [true, false]) {
      const forged = rechainAndReseal(ls, STOLEN, renumber);
      expect(v(forged).ok).toBe(!renumber ? true : false); // kept epochs: the chain-only check is fooled
      const r = v(forged, { ...KEY, requireClosed: true });
      expect(r.ok).toBe(false);
      if (renumber) expect(r.error!.reason).toMatch(new RegExp(`the first sealed run starts at epoch ${STOLEN.epoch}, not 0`));
      else expect(r.error).toMatchObject({ seq: 2, reason: expect.stringMatching(/seal of epoch 0 does not verify/) });
    }
  });
  test("keeps run 1 up to a mid-run seal, cuts the rest, appends a made-up run sealed with the stolen state: refused", () => {
    const keep = LINES.slice(0, seals[1].seq);
    const forged = appendFabricatedRun(keep, STOLEN, [{ actor: "w_evil", via: "worker", action: "cred.checkout", target: "db", result: "ok" }]);
    // The gap in the epochs shows even without the key (a forger without the stolen state could fake the numbers; not the MACs).
    expectBreak(v(forged), seals[1].seq + 1, /were cut out/);
    expectBreak(v(forged, KEY), seals[1].seq + 1, new RegExp(`this run starts at epoch ${STOLEN.epoch} where 2 was expected: the sealed lines of epochs 2..${STOLEN.epoch - 1} were cut out`));
  });
  test("the most a stolen state allows: keep every line sealed before the theft and go on from there — the cut run is listed, --closed fails", () => {
    const sl = makeSealing(root);
    const path = join(root, "live.log");
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 2, now: () => clock });
    for (let i = 0; i < 5; i++) w.record({ action: "kv.get", result: "ok" });
    const stolen = parseSealStateFile(readFileSync(sl.path, "utf8")); // copied mid-run
    const atTheft = split(readFileSync(path, "utf8"));
    for (let i = 0; i < 5; i++) w.record({ actor: "w_real", action: "cred.checkout", result: "ok" });
    expect(w.close()).toBe(true);
    const real = split(readFileSync(path, "utf8"));
    const sealIdx = atTheft.flatMap((l, i) => (JSON.parse(l).type === "seal" ? [i] : []));
    const last = sealIdx.at(-1)!;
    expect(JSON.parse(atTheft[last]).epoch).toBe(stolen.epoch - 1);
    const forged = appendFabricatedRun(real.slice(0, last + 1), stolen, [{ actor: "w_evil", action: "kv.get", result: "ok" }]);
    const r = v(forged, { verifyKey: sl.seed });
    expect(r.ok).toBe(true); // after the theft the thief writes what they like: the inherent limit
    expect(r.notStopped).toEqual([{ from: 1, to: last + 1 }]);
    expect(r.runList.map((x) => x.stopped)).toEqual([false, true]);
    expectBreak(v(forged, { verifyKey: sl.seed, requireClosed: true }), last + 1, /run without a stop line \(seq 1\.\.\d+\): the daemon crashed, or the run was cut/);
    // One seal earlier looks like a crash between replacing the state and writing its seal (PROTOCOL.md §9.4):
    // the skipped epoch is named in a warning, and --closed fails on it.
    const earlier = appendFabricatedRun(real.slice(0, sealIdx.at(-2)! + 1), stolen, []);
    const re = v(earlier, { verifyKey: sl.seed });
    expect(re.ok).toBe(true);
    expect(re.skippedEpochs.map((x) => x.epoch)).toEqual([stolen.epoch - 1]);
    expect(re.warnings.join("\n")).toContain(`epoch ${stolen.epoch - 1} was skipped`);
    expectBreak(v(earlier, { verifyKey: sl.seed, requireClosed: true }), sealIdx.at(-2)! + 2, /run without a stop line|was skipped/);
    // Two seals earlier, and the cut shows as a gap in the epochs.
    const twoEarlier = appendFabricatedRun(real.slice(0, sealIdx.at(-3)! + 1), stolen, []);
    expect(v(twoEarlier, { verifyKey: sl.seed }).error?.reason).toMatch(new RegExp(`epochs ${stolen.epoch - 2}\\.\\.${stolen.epoch - 1} were cut out`));
  });
});
