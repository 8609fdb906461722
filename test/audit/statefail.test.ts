/**
 * The sealing state on disk never derives a key the log has already used
 * (PROTOCOL.md §9.4), against the compiled binary: a state file on a full
 * tmpfs is rewritten in place; a state that cannot be replaced at all keeps
 * the seal out of the log, fails the daemon closed (ready 503, logged once)
 * and leaves a run that `hush audit verify --closed` refuses; a skipped
 * epoch (the daemon died between replacing the state and writing the seal)
 * is named by the next start and by the verifier. And the daemon's log
 * reports only changes that were made (a change the full audit log refused
 * is logged as taken back), and the audit log's failure and recovery once
 * each. Needs root (mount a tmpfs); otherwise skipped with the reason.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { SealStateFile, parseSealStateFile } from "../../src/audit/index.ts";
import { fillUntilFull } from "./_fill.ts";
import { hush, startDaemon, tempDir, waitFor, type Daemon } from "../e2e/_harness.ts";

const root = tempDir("hush-statefail-");
const mnt = join(root, "stfs");
let mounted = false;
let why = "";

beforeAll(() => {
  mkdirSync(mnt, { mode: 0o700 });
  if (process.platform !== "linux") why = "needs Linux tmpfs";
  else if (process.getuid?.() !== 0) why = "needs root to mount a tmpfs";
  else {
    const p = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt]);
    mounted = p.exitCode === 0;
    if (!mounted) why = `mount failed: ${p.stderr.toString().trim()}`;
  }
  if (!mounted) console.warn(`SKIP statefail tests: ${why}`);
});

afterAll(() => {
  for (const d of daemons) d.cleanup();
  if (mounted) Bun.spawnSync(["umount", "-l", mnt]); // lazy: a daemon just killed may still hold a file there
});

/** Every daemon started here, killed at the end whatever a test did. */
const daemons: Daemon[] = [];
async function serve(args: string[], dir: string, run = "run"): Promise<Daemon> {
  const d = await startDaemon(args, { dir, socket: join(dir, run, "hush.sock") });
  daemons.push(d);
  return d;
}

/** Fill the tmpfs with `name` until ENOSPC (to the last byte). */
const fill = (name: string) => fillUntilFull(join(mnt, name));

const lines = (path: string): any[] => readFileSync(path, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
const stateEpoch = (path: string) => parseSealStateFile(readFileSync(path, "utf8")).epoch;
const seals = (path: string) => lines(path).filter((l) => l.type === "seal");

async function keygen(dir: string, state: string): Promise<string> {
  const key = join(dir, "v.key");
  const r = await hush(["keygen", "audit", "--out", key, "--state-out", state]);
  expect(r.code).toBe(0);
  return key;
}

/** A daemon sealing its audit file with a state in its own 0700 directory `st`. */
async function sealedDaemon(extra: string[] = []) {
  const dir = tempDir();
  const stDir = join(dir, "st");
  mkdirSync(stDir, { mode: 0o700 });
  const state = join(stDir, "s");
  const key = await keygen(dir, state);
  const audit = join(dir, "a.jsonl");
  const d = await serve(["--audit-file", audit, "--audit-state-file", state, ...extra], dir);
  return { dir, stDir, state, key, audit, d };
}

async function ready(d: Daemon): Promise<number> {
  const res = await fetch("http://localhost/v1/ready", { unix: d.socket } as RequestInit);
  await res.text();
  return res.status;
}

describe("the sealing state on disk is never behind the log's seals", () => {
  test("a state file on a full filesystem is rewritten in place: state and log agree, the file verifies --closed", async () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const dir = tempDir();
    const state = join(mnt, "s1");
    const key = await keygen(dir, state);
    const audit = join(dir, "a.jsonl");
    const d = await serve(["--audit-file", audit, "--audit-state-file", state, "--audit-seal-interval", "1s"], dir);
    try {
      fill("fill1");
      await d.issue("evil-insider");
      const issued = lines(audit).filter((l) => /^w_/.test(l.target ?? "")).at(-1)!.seq;
      await waitFor(() => seals(audit).some((s) => s.seq > issued), 10_000, "a timed seal after the issue");
      expect(await ready(d)).toBe(200);
      expect(await d.stop()).toBe(0);
      const all = seals(audit);
      // The invariant: the state on disk is past every epoch the log used.
      expect(stateEpoch(state)).toBe(all.at(-1).epoch + 1);
      const v = await hush(["audit", "verify", "--file", audit, "--key-file", key, "--closed"]);
      expect(v.stdout + v.stderr).toContain("closed cleanly");
      expect(v.code).toBe(0);
    } finally {
      d.cleanup();
      rmSync(join(mnt, "fill1"), { force: true });
      rmSync(state, { force: true });
    }
  }, 30_000);

  test("a state that cannot be replaced: no seal is written, ready is 503 (logged once), and the run does not verify --closed", async () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const { dir, stDir, state, key, audit, d } = await sealedDaemon(["--audit-seal-interval", "1s"]);
    try {
      const before = seals(audit).length;
      renameSync(stDir, stDir + ".away"); // the path now leads nowhere: no new state file can be made there
      await d.issue("w1"); // the line goes in; its seal falls due within a second
      await waitFor(async () => (await ready(d)) === 503, 10_000, "ready to turn 503");
      await Bun.sleep(2500); // several more ticks retry and fail: still one log line about it
      expect(d.log().split("the audit log cannot be written").length - 1).toBe(1);
      expect(seals(audit).length).toBe(before);
      expect(await d.stop()).toBe(0);
      expect(d.log()).toContain("could not be closed cleanly");
      renameSync(stDir + ".away", stDir);
      const all = lines(audit);
      expect(all.some((l) => l.type === "stop")).toBe(false);
      expect(stateEpoch(state)).toBe(seals(audit).at(-1).epoch + 1);
      const closed = await hush(["audit", "verify", "--file", audit, "--key-file", key, "--closed"]);
      expect(closed.code).toBe(1);
      expect(closed.stdout + closed.stderr).not.toContain("closed cleanly");
      // The next start carries on from the state on disk; the whole file then verifies.
      const d2 = await serve(["--audit-file", audit, "--audit-state-file", state], dir, "run2");
      expect(await d2.stop()).toBe(0);
      const v = await hush(["audit", "verify", "--file", audit, "--key-file", key]);
      expect(v.code).toBe(0);
    } finally {
      d.cleanup();
    }
  }, 40_000);

  test("an epoch skipped by a crash after the state was replaced: the next start and the verifier name it; --closed fails", async () => {
    const { dir, state, key, audit, d } = await sealedDaemon();
    await d.issue("w1");
    await d.stop("SIGKILL"); // no stop line
    const last = seals(audit).at(-1).epoch;
    expect(stateEpoch(state)).toBe(last + 1);
    // What a crash between replacing the state and writing the seal leaves: the state one epoch further.
    const st = SealStateFile.load(state);
    st.advance();
    st.persist();
    st.close();
    const d2 = await serve(["--audit-file", audit, "--audit-state-file", state], dir, "run2");
    expect(d2.log()).toContain(`the seal of epoch ${last + 1} was never written`);
    expect(await d2.stop()).toBe(0);
    const v = await hush(["audit", "verify", "--file", audit, "--key-file", key]);
    expect(v.code).toBe(0);
    expect(v.stdout + v.stderr).toContain(`epoch ${last + 1} was skipped`);
    const closed = await hush(["audit", "verify", "--file", audit, "--key-file", key, "--closed"]);
    expect(closed.code).toBe(1);
    // Two epochs are not a crash: still a break.
    const st2 = SealStateFile.load(state);
    st2.advance();
    st2.advance();
    st2.persist();
    st2.close();
    const d3 = await serve(["--audit-file", audit, "--audit-state-file", state], dir, "run3");
    expect(await d3.stop()).toBe(0);
    expect((await hush(["audit", "verify", "--file", audit, "--key-file", key])).code).toBe(1);
  }, 40_000);
});

describe("the daemon's log tells only changes that were made, and the audit log's failure once", () => {
  test("issue and revoke refused by a full audit log: not logged as done, logged as taken back; failure and recovery logged once each", async () => {
    if (!mounted) return console.warn(`skipped: ${why}`);
    const dir = tempDir();
    const audit = join(mnt, "f4.jsonl");
    const d = await serve(["--audit-file", audit], dir);
    try {
      await Promise.all(Array.from({ length: 30 }, (_, i) => d.issue(`keeper${i}`)));
      const ids: string[] = lines(audit).flatMap((l) => (/^w_/.test(l.target ?? "") ? [l.target] : []));
      expect(ids.length).toBe(30);
      fill("fill4");
      // The file's last page may take a few lines yet: issue until the audit log refuses.
      let ghost = "";
      for (let i = 0; i < 50 && !ghost; i++) {
        const r = await d.cli(["workers", "issue", "--name", `ghost${i}`]);
        if (r.code === 6) ghost = `ghost${i}`;
        else expect(r.code).toBe(0);
      }
      expect(ghost).not.toBe("");
      expect(d.log()).not.toContain(`"${ghost}"`);
      expect(d.log()).toMatch(/change taken back[^\n]*corr_id/);
      unlinkSync(join(mnt, "fill4"));
      await waitFor(async () => (await ready(d)) === 200, 10_000, "the audit log to recover");
      expect((await d.cli(["workers", "list"])).stdout).not.toContain(ghost);
      fill("fill4");
      let refused = "";
      for (const id of ids) {
        const r = await d.cli(["workers", "revoke", id]);
        if (r.code === 6) {
          refused = id;
          break;
        }
        expect(r.code).toBe(0);
      }
      expect(refused).not.toBe("");
      expect(d.log()).not.toMatch(new RegExp(`worker key revoked[^\n]*${refused}`));
      await waitFor(async () => (await ready(d)) === 503, 10_000, "ready to turn 503");
      unlinkSync(join(mnt, "fill4"));
      await waitFor(async () => (await ready(d)) === 200, 10_000, "the audit log to recover");
      expect(d.log().split("the audit log cannot be written").length - 1).toBe(2);
      expect(d.log().split("the audit log can be written again").length - 1).toBe(2);
      expect((await d.cli(["workers", "list"])).stdout).toContain(refused);
    } finally {
      d.cleanup();
      rmSync(join(mnt, "fill4"), { force: true });
      rmSync(audit, { force: true });
    }
  }, 40_000);
});
