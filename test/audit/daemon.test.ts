/**
 * The audit log through the compiled binary and a real daemon
 * (`hush keygen audit`, `hush serve --audit-file --audit-state-file`,
 * `hush audit tail -f`, `hush audit verify`).
 *
 * - Followers over the TLS port, hush.sock and admin.sock stay connected
 *   through 60 s without a new line at the daemon's real 10 s idle timeout
 *   (heartbeats, never printed); after a SIGTERM each ends with exit 0 once
 *   it has the run's stop line and closing seal, and its copy verifies
 *   with --closed.
 * - A follower that stops hearing heartbeats (the daemon is SIGSTOPped)
 *   exits 6 after --heartbeat-timeout and says where to resume.
 * - An attacker with the log, the state file of today and every public key
 *   but not the verification key: edits a sealed, cleanly stopped run
 *   (re-attributes a cred.checkout, deletes a revoke line), re-chains and
 *   re-seals; or keeps a run up to a mid-run seal and appends a made-up run.
 *   Both fail `audit verify --key-file --closed`.
 * - A run that crashed (SIGKILL) is listed; --closed fails on it.
 *
 * The tests run concurrently, so the file's wall time is about the 60 s wait.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, freePort, hush, startDaemon, tempDir, waitFor, type Daemon } from "../e2e/_harness.ts";
import { parseSealStateFile } from "../../src/audit/index.ts";
import { appendFabricatedRun, rechainAndReseal } from "./_attack.ts";

const daemons: Daemon[] = [];
afterAll(() => {
  for (const d of daemons) d.cleanup();
});

/** keygen audit into `dir`: the verification key and the state file. */
async function keygen(dir: string): Promise<{ key: string; state: string }> {
  const key = join(dir, "audit.verify");
  const state = join(dir, "audit.state");
  const r = await hush(["keygen", "audit", "--out", key, "--state-out", state]);
  expect(r.code).toBe(0);
  return { key, state };
}

async function serve(dir: string, state: string, log: string, extra: string[] = []): Promise<Daemon> {
  const d = await startDaemon(["--audit-file", log, "--audit-state-file", state, ...extra], { dir });
  daemons.push(d);
  return d;
}

/** A running `hush audit tail …`, its stdout collected. */
function follow(args: string[], env: Record<string, string | undefined> = {}) {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, HUSH_ADMIN_CREDENTIAL: undefined, HUSH_URL: undefined, ...env })) if (v !== undefined) e[k] = v;
  const p = Bun.spawn([HUSH, "audit", "tail", ...args], { env: e, stdout: "pipe", stderr: "pipe" });
  const f = { p, out: "", err: "", lines: () => f.out.trimEnd().split("\n").filter(Boolean) };
  const collect = async (s: any, into: "out" | "err") => {
    for await (const c of s) f[into] += new TextDecoder().decode(c);
  };
  collect(p.stdout, "out");
  collect(p.stderr, "err");
  return f;
}

const lines = (path: string) => readFileSync(path, "utf8").trimEnd().split("\n");

describe("followers", () => {
  test.concurrent(
    "tail -f over the TLS port, hush.sock and admin.sock: 60 s of silence, then SIGTERM; each copy verifies --closed",
    async () => {
      const dir = tempDir("hush-audit-follow-");
      const { key, state } = await keygen(dir);
      const log = join(dir, "audit.jsonl");
      const url = `https://127.0.0.1:${freePort()}`;
      const d = await serve(dir, state, log, ["--listen", url]);
      const cred = join(dir, "ops.admin");
      expect((await d.cli(["keygen", "admin", "--name", "ops", "--out", cred])).code).toBe(0);
      await d.issue("before");
      const common = ["-f", "--since", "0", "--json", "--admin-credential-file", cred];
      const followers = {
        tls: follow([...common, "--url", url]),
        sock: follow([...common, "--socket", d.socket]),
        admin: follow(["-f", "--since", "0", "--json", "--socket", d.socket]),
      };
      for (const f of Object.values(followers)) await waitFor(() => f.out.includes('"action":"admin.workers.issue"'), 10_000, "the history");
      // A raw follow stream on admin.sock shows the heartbeats the CLI does not print.
      const raw = await fetch("http://localhost/v1/admin/audit?since=0&follow=1", { unix: d.admin } as RequestInit);
      const reader = raw.body!.getReader();
      let rawText = "";
      const rawDone = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          rawText += new TextDecoder().decode(value);
        }
      })();
      const t0 = Date.now();
      await Bun.sleep(60_000); // nothing is written but the interval seal ~10 s after the last event
      for (const [name, f] of Object.entries(followers)) {
        expect({ name, exit: f.p.exitCode, err: f.err }).toEqual({ name, exit: null, err: "" });
        expect(f.out).not.toContain("heartbeat");
      }
      const last = JSON.parse(lines(log).at(-1)!);
      expect(Date.now() - last.ts).toBeGreaterThan(45_000); // it really was silent
      const hbs = rawText.split("\n").filter((l) => l.startsWith('{"type":"heartbeat"')).map((l) => JSON.parse(l));
      expect(hbs.length).toBeGreaterThanOrEqual(15); // one every 3 s
      expect(hbs.at(-1)).toMatchObject({ last_seq: last.seq });
      await d.issue("after"); // the streams are still live
      for (const f of Object.values(followers)) await waitFor(() => f.out.split('"action":"admin.workers.issue"').length === 3, 10_000, "a line after the silence");
      expect(await d.stop()).toBe(0);
      for (const [name, f] of Object.entries(followers)) {
        expect({ name, exit: await f.p.exited }).toEqual({ name, exit: 0 });
        expect(f.err).toContain("hush: hint: the daemon stopped; its run ended cleanly at seq");
        const copy = join(dir, `copy-${name}.jsonl`);
        writeFileSync(copy, f.out);
        expect(f.out).toBe(readFileSync(log, "utf8")); // byte for byte, stop line and closing seal included
        const v = await hush(["audit", "verify", "--file", copy, "--key-file", key, "--closed"]);
        expect({ name, code: v.code, err: v.stderr }).toEqual({ name, code: 0, err: "" });
      }
      await rawDone; // the raw stream ended after the closing seal too
      expect(rawText.trimEnd().split("\n").filter((l) => !l.includes("heartbeat")).at(-1)).toBe(lines(log).at(-1));
      expect(Date.now() - t0).toBeLessThan(90_000);
    },
    120_000,
  );

  test.concurrent(
    "a follower that stops hearing heartbeats exits 6 and says where to resume",
    async () => {
      const dir = tempDir("hush-audit-stall-");
      const { state } = await keygen(dir);
      const log = join(dir, "audit.jsonl");
      const d = await serve(dir, state, log);
      const cred = join(dir, "ops.admin");
      expect((await d.cli(["keygen", "admin", "--name", "ops", "--out", cred])).code).toBe(0);
      const f = follow(["-f", "--since", "0", "--json", "--heartbeat-timeout", "4s", "--admin-credential-file", cred, "--socket", d.socket]);
      await waitFor(() => f.out.includes('"action":"admin.admins.issue"'), 10_000, "the history");
      await Bun.sleep(4500); // heartbeats keep it alive past its own timeout
      expect(f.p.exitCode).toBeNull();
      d.proc.kill("SIGSTOP");
      const stopped = Date.now();
      try {
        expect(await f.p.exited).toBe(6);
      } finally {
        d.proc.kill("SIGCONT");
      }
      expect(Date.now() - stopped).toBeLessThan(12_000);
      const lastSeq = JSON.parse(f.lines().at(-1)!).seq;
      expect(f.err).toContain("hush: error: no line or heartbeat from the daemon for 4s: the connection or the daemon is stuck");
      expect(f.err).toContain(`hush: hint: resume with --since ${lastSeq + 1}`);
      expect(await d.stop()).toBe(0);
      const bad = await hush(["audit", "tail", "-f", "--heartbeat-timeout", "2s", "--socket", d.socket]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("--heartbeat-timeout must be at least 4s");
    },
    60_000,
  );
});

describe("an attacker with the log, today's state file and every public key, but not the verification key", () => {
  test.concurrent(
    "re-sealing an edited, cleanly stopped run, and cutting a run to append a made-up one: both refused",
    async () => {
      const dir = tempDir("hush-audit-attack-");
      const { key, state } = await keygen(dir);
      const log = join(dir, "audit.jsonl");
      for (let run = 1; run <= 2; run++) {
        process.env.HUSH_TEST_DB = `db-secret-${run}`;
        const d = await serve(dir, state, log, ["--audit-seal-every", "3", "--cred", "db=env:HUSH_TEST_DB", "--cred-allow", "db=ci"]);
        const a = join(dir, `a${run}.cred`);
        const b = join(dir, `b${run}.cred`);
        expect((await d.cli(["workers", "issue", "--name", `a${run}`, "--tags", "ci", "--out", a])).code).toBe(0);
        expect((await d.cli(["workers", "issue", "--name", `b${run}`, "--tags", "ci", "--out", b])).code).toBe(0);
        expect((await d.cli(["checkout", "db", "--credential-file", a])).code).toBe(0);
        const bId = parseKeyId(readFileSync(b, "utf8"));
        expect((await d.cli(["workers", "revoke", bId])).code).toBe(0);
        expect(await d.stop()).toBe(0);
      }
      expect(statSync(state).mode & 0o777).toBe(0o600);
      const real = lines(log);
      const ok = await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain(`vouched for: seq 1..${real.length}`);
      const stolen = parseSealStateFile(readFileSync(state, "utf8")); // the attacker's copy, today
      const o = real.map((l) => JSON.parse(l));
      const run2 = o.findIndex((x, i) => i > 0 && x.type === "start");
      const checkout = o.findIndex((x, i) => i < run2 && x.action === "cred.checkout");
      const revoke = o.findIndex((x, i) => i < run2 && x.action === "admin.workers.revoke");
      const other = o.find((x, i) => i < run2 && x.action === "admin.workers.issue" && x.target !== o[checkout].actor)!.target;
      expect([checkout, revoke].every((i) => i > 0)).toBe(true);
      const edited = real.slice();
      edited[checkout] = JSON.stringify({ ...o[checkout], actor: other }); // re-attributed
      edited.splice(revoke, 1); // the revoke never happened
      const verify = async (name: string, ls: string[]) => {
        const p = join(dir, name);
        writeFileSync(p, ls.join("\n") + "\n");
        return await hush(["audit", "verify", "--file", p, "--key-file", key, "--closed"]);
      };
      for (const renumber of [true, false]) {
        const r = await verify(`edited-${renumber}.jsonl`, rechainAndReseal(edited, stolen, renumber));
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(renumber ? /the first sealed run starts at epoch \d+, not 0/ : /seal of epoch 0 does not verify/);
      }
      // Keep run 1 up to a mid-run seal, byte for byte; cut the rest; append a run of one's own.
      const midSeal = o.findIndex((x, i) => i > 1 && i < run2 - 2 && x.type === "seal");
      const forged = appendFabricatedRun(real.slice(0, midSeal + 1), stolen, [{ actor: "w_nobody", via: "worker", action: "cred.checkout", target: "db", result: "ok" }]);
      const r = await verify("cut.jsonl", forged);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/this run starts at epoch \d+ where \d+ was expected: the sealed lines of epochs \d+\.\.\d+ were cut out/);
    },
    60_000,
  );

  test.concurrent(
    "a crashed run is listed, --closed fails on it; the state file is refused when others could read it",
    async () => {
      const dir = tempDir("hush-audit-crash-");
      const { key, state } = await keygen(dir);
      const log = join(dir, "audit.jsonl");
      const d1 = await serve(dir, state, log);
      await d1.issue("x");
      expect(await d1.stop("SIGKILL")).not.toBe(0);
      const d2 = await serve(dir, state, log);
      await d2.issue("y"); // (also: past "ready", its signal handlers are surely installed)
      expect(await d2.stop()).toBe(0);
      const open = await hush(["audit", "verify", "--file", log, "--key-file", key]);
      expect(open.code).toBe(0);
      expect(open.stdout).toMatch(/run without a stop line: seq 1\.\.\d+ \(the daemon crashed, or the run was cut and another appended\)/);
      const closed = await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"]);
      expect(closed.code).toBe(1);
      expect(closed.stderr).toMatch(/run without a stop line \(seq 1\.\.\d+\)/);
      Bun.spawnSync(["chmod", "644", state]);
      const r = await hush(["serve", "--socket", join(dir, "r2", "hush.sock"), "--audit-file", log, "--audit-state-file", state]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("has mode 644: others may have read it, and whoever did can forge seals from its epoch on");
    },
    60_000,
  );
});

function parseKeyId(credFile: string): string {
  const m = /^# id: (w_[A-Za-z0-9_-]{16})/m.exec(credFile);
  if (!m) throw new Error("no key id in the credential file");
  return m[1];
}
