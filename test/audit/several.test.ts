/**
 * `hush audit verify a.log b.log …` (docs/CLUSTER.md §10, PROTOCOL.md §9.8):
 * two compiled daemons, each with its own audit file and sealing state,
 * written to in turn; their logs verified together with both verification
 * keys (matched by key id, given in either order) and printed merged by
 * time; then one log tampered with, cut, or passed off as the other, and
 * the break named by file and line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "../e2e/_harness.ts";

const dir = tempDir("hush-audit-several-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const A = { log: join(dir, "a.jsonl"), key: join(dir, "a.verify"), state: join(dir, "a.state") };
const B = { log: join(dir, "b.jsonl"), key: join(dir, "b.verify"), state: join(dir, "b.state") };
/** The daemon (a or b) of each admin change, in the order they were made. */
const made: string[] = [];

beforeAll(async () => {
  const daemons: Record<string, Daemon> = {};
  for (const [n, x] of Object.entries({ a: A, b: B })) {
    expect((await hush(["keygen", "audit", "--out", x.key, "--state-out", x.state])).code).toBe(0);
    mkdirSync(join(dir, n), { mode: 0o700 });
    daemons[n] = await startDaemon(["--audit-file", x.log, "--audit-state-file", x.state, "--audit-seal-every", "3"], { dir: join(dir, n) });
  }
  try {
    for (let i = 0; i < 4; i++) {
      for (const n of ["a", "b"]) {
        await daemons[n].issue(`${n}${i}`);
        made.push(n);
      }
    }
  } finally {
    for (const d of Object.values(daemons)) expect(await d.stop()).toBe(0);
  }
}, 60_000);

const lines = (p: string) => readFileSync(p, "utf8").trimEnd().split("\n");
function write(name: string, ls: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, ls.join("\n") + "\n");
  return p;
}
const keys = ["--key-file", B.key, "--key-file", A.key]; // not in the files' order: matched by key id

describe("hush audit verify with several logs", () => {
  test("both verify (--closed) and their lines come out merged by time, each naming its log", async () => {
    const r = await hush(["audit", "verify", A.log, B.log, ...keys, "--closed", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.logs.map((l: any) => [l.file, l.ok, l.closed, l.lines])).toEqual([
      [A.log, true, true, lines(A.log).length],
      [B.log, true, true, lines(B.log).length],
    ]);
    expect(out.logs[0].key_id).not.toBe(out.logs[1].key_id);
    expect(out.logs.every((l: any) => l.sealsChecked && l.vouched)).toBe(true);
    // Every line of both files, once; times never go back; each log's lines in seq order.
    expect(out.lines).toHaveLength(lines(A.log).length + lines(B.log).length);
    const ts = out.lines.map((m: any) => m.line.ts);
    expect(ts).toEqual([...ts].sort((x: number, y: number) => x - y));
    for (const f of [A.log, B.log]) {
      const seqs = out.lines.filter((m: any) => m.log === f).map((m: any) => m.line.seq);
      expect(seqs).toEqual(lines(f).map((_, i) => i + 1));
    }
    // The admin changes, made in turn on a and b, come out in that order.
    const changes = out.lines.filter((m: any) => m.line.type === "event" && m.line.action?.startsWith("admin.") && m.line.result === "ok");
    expect(changes.map((m: any) => (m.log === A.log ? "a" : "b"))).toEqual(made);
  });

  test("the table names the log of each line; the reports follow under each file's name", async () => {
    const r = await hush(["audit", "verify", A.log, "--file", B.log, ...keys]);
    expect(r.code).toBe(0);
    const rows = r.stdout.split("\n");
    expect(rows[0]).toMatch(/^LOG\s+SEQ\s+TIME/);
    const body = rows.slice(1, 1 + lines(A.log).length + lines(B.log).length);
    expect(body.every((x) => x.startsWith(A.log + " ") || x.startsWith(B.log + " "))).toBe(true);
    expect(body.filter((x) => x.includes("daemon run started"))).toHaveLength(2);
    expect(r.stdout).toContain(`${A.log}: intact`);
    expect(r.stdout).toContain(`${B.log}: intact`);
    expect(r.stdout).toMatch(/vouched for: seq 1\.\./);
  });

  test("one changed line in one log: that log and line are named, the other is intact, exit 1", async () => {
    const ls = lines(B.log);
    const at = ls.findIndex((l) => l.includes('"type":"event"'));
    ls[at] = ls[at].replace(/"target":"[^"]*"/, '"target":"w_forged"');
    const bad = write("b-changed.jsonl", ls);
    for (const k of [keys, []]) {
      const r = await hush(["audit", "verify", A.log, bad, ...k]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`hush: error: ${bad}: audit log broken at seq ${at + 1} (line ${at + 1}): seq ${at + 1} (line ${at + 1}) does not hash to the prev`);
      expect(r.stderr).not.toContain(`${A.log}: audit log broken`);
      expect(r.stdout).toContain(`${A.log}: intact`);
      expect(r.stdout).toContain(`${bad}: BROKEN`);
      // Only the lines before the break are merged in.
      expect(r.stdout).not.toContain("w_forged");
    }
  });

  test("a line changed and the chain recomputed: caught by the seal with the key, not without", async () => {
    const ls = lines(A.log);
    const at = ls.findIndex((l) => l.includes('"type":"event"'));
    const { lineHash } = await import("../../src/audit/index.ts");
    ls[at] = ls[at].replace(/"target":"[^"]*"/, '"target":"w_forged"');
    for (let i = at + 1; i < ls.length; i++) ls[i] = ls[i].replace(/"prev":"[^"]*"/, `"prev":"${lineHash(ls[i - 1])}"`);
    const bad = write("a-rechained.jsonl", ls);
    const seal = ls.findIndex((l, i) => i > at && l.includes('"type":"seal"'));
    const withKey = await hush(["audit", "verify", bad, B.log, ...keys]);
    expect(withKey.code).toBe(1);
    expect(withKey.stderr).toContain(`hush: error: ${bad}: audit log broken at seq ${seal + 1} (line ${seal + 1}): seal of epoch`);
    const chainOnly = await hush(["audit", "verify", bad, B.log]);
    expect(chainOnly.code).toBe(0);
    expect(chainOnly.stderr).toContain("CHAIN ONLY");
  });

  test("a log cut after its stop line, or in the middle of a line: the same report as for that log alone", async () => {
    const ls = lines(B.log);
    const cut = write("b-cut.jsonl", ls.slice(0, -1)); // the closing seal is gone
    const torn = join(dir, "b-torn.jsonl");
    writeFileSync(torn, ls.join("\n").slice(0, -5));
    for (const f of [cut, torn]) {
      const alone = await hush(["audit", "verify", f, "--key-file", B.key, "--closed"]);
      expect(alone.code).toBe(1);
      const reason = alone.stderr.match(/hush: error: (audit log broken .*)\n/)![1];
      const both = await hush(["audit", "verify", A.log, f, ...keys, "--closed"]);
      expect(both.code).toBe(1);
      expect(both.stderr).toContain(`hush: error: ${f}: ${reason}\n`);
      expect(both.stdout).toContain(`${A.log}: intact`);
    }
    expect((await hush(["audit", "verify", cut, "--key-file", B.key, "--closed"])).stderr).toContain("without its run's stop line and closing seal");
    expect((await hush(["audit", "verify", torn, "--key-file", B.key])).stderr).toContain("the last line has no newline");
  });

  test("keys are matched by key id: a log whose key is missing fails, and the same log twice is refused", async () => {
    // A log whose key was not given is not vouched for (exit 1), but it is not called broken.
    const ids = JSON.parse((await hush(["audit", "verify", A.log, B.log, ...keys, "--json"])).stdout).logs.map((l: any) => l.key_id);
    const onlyA = await hush(["audit", "verify", A.log, B.log, "--key-file", A.key]);
    expect(onlyA.code).toBe(1);
    expect(onlyA.stderr).toContain(`hush: error: ${B.log}: not verified: no --key-file given for key id ${ids[1]} (the keys given have ${ids[0]})`);
    expect(onlyA.stderr).not.toContain("broken");
    expect(onlyA.stdout).toContain(`${A.log}: intact`);
    expect(onlyA.stdout).toContain(`${B.log}: NOT VERIFIED (key id ${ids[1]})`);
    const json = JSON.parse((await hush(["audit", "verify", A.log, B.log, "--key-file", A.key, "--json"])).stdout);
    expect(json.logs.map((l: any) => [l.ok, l.key_missing])).toEqual([[true, false], [false, true]]);
    // B's lines are not merged in: nothing vouches for them.
    expect(json.lines.every((m: any) => m.log === A.log)).toBe(true);
    // A broken log whose key is missing too is called broken, and the missing key is named.
    const ls = lines(B.log);
    ls[2] = ls[2].replace(/"ts":\d+/, '"ts":1');
    const bad = write("b-broken-nokey.jsonl", ls);
    const both = await hush(["audit", "verify", A.log, bad, "--key-file", A.key]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(new RegExp(`hush: error: ${bad}: audit log broken at seq 3 \\(line 3\\): .*; and no --key-file given for key id ${ids[1]}`));
    expect(both.stdout).toContain(`${bad}: BROKEN`);
    const copy = write("a-copy.jsonl", lines(A.log));
    const twice = await hush(["audit", "verify", A.log, copy, ...keys]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain(`hush: error: ${copy}: audit log broken at seq 1 (line 1): this log is sealed with the same key`);
    expect(twice.stderr).toContain(`as ${A.log}`);
    expect(twice.stderr).toContain("the verification key with key id"); // b's key matched no log
  });

  test("usage: --first-epoch once per file; a missing file is exit 3 and named", async () => {
    const r = await hush(["audit", "verify", A.log, B.log, "--first-epoch", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--first-epoch is given 1 times for 2 files");
    const ok = await hush(["audit", "verify", A.log, B.log, ...keys, "--first-epoch", "0", "--first-epoch", "0"]);
    expect(ok.code).toBe(0);
    const missing = await hush(["audit", "verify", A.log, join(dir, "nope.jsonl")]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("nope.jsonl");
    expect((await hush(["audit", "verify"])).code).toBe(2);
  });
});

describe("verifyAuditLogs (the merge)", () => {
  test("a log whose clock stepped back keeps its seq order; equal times keep the files' order", async () => {
    const { ZERO_PREV, lineHash, verifyAuditLogs } = await import("../../src/audit/index.ts");
    /** A chained log: a start line, events, a stop line, at the times given. */
    const make = (name: string, times: number[]) => {
      let prev = ZERO_PREV;
      const ls = times.map((ts, i) => {
        const type = i === 0 ? "start" : i === times.length - 1 ? "stop" : "event";
        const line = JSON.stringify({ seq: i + 1, ts, type, prev, ...(type === "event" ? { action: `${name}.${i}` } : type === "start" ? { v: 2 } : {}) });
        prev = lineHash(line);
        return line;
      });
      return { name, bytes: new TextEncoder().encode(ls.join("\n") + "\n") };
    };
    // x: start at 100, then 300, then 50 (its clock stepped back), stop at 50. y: everything at 100.
    const x = make("x", [100, 300, 50, 50]);
    const y = make("y", [100, 100, 100, 100]);
    const r = verifyAuditLogs([x, y]);
    expect(r.ok).toBe(true);
    const order = r.merged.map((m) => `${r.logs[m.log].name}:${m.line.seq}`);
    expect(order).toEqual(["x:1", "y:1", "y:2", "y:3", "y:4", "x:2", "x:3", "x:4"]);
  });
});
