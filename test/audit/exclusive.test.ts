/**
 * One daemon per audit file and per sealing state (issue 12 follow-up,
 * finding 2), through the compiled binary. `hush.lock` covers only the
 * socket directory, so two daemons on two --socket directories could both
 * append to one --audit-file and seal with one --audit-state-file, and a
 * daemon whose hush.lock was deleted could meet a second one that wrote its
 * start line before the socket conflict showed. Now the audit file and the
 * state file are locked (flock) for the run, and a live socket is refused
 * before the audit file is opened: the second daemon exits 4, naming the
 * holder's pid, and the file is left byte for byte as it was.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "../e2e/_harness.ts";
import { tryServe } from "./_serve.ts";

const started: Daemon[] = [];
afterAll(() => started.forEach((d) => d.cleanup()));

/** keygen audit into `dir`. */
async function keygen(dir: string, name = "audit"): Promise<{ key: string; state: string }> {
  const key = join(dir, `${name}.verify`);
  const state = join(dir, `${name}.state`);
  const r = await hush(["keygen", "audit", "--out", key, "--state-out", state]);
  expect(r.stderr).toContain("Key id:");
  expect(r.code).toBe(0);
  return { key, state };
}

/** A daemon in its own socket directory under `dir`. */
async function daemon(dir: string, name: string, args: string[]): Promise<Daemon> {
  const own = join(dir, name);
  mkdirSync(own, { mode: 0o700 });
  const d = await startDaemon(args, { dir: own });
  started.push(d);
  return d;
}

describe("two daemons on one audit file or one sealing state", () => {
  test("on two socket directories: the second is refused (exit 4, the holder's pid), nothing written; the log verifies --closed", async () => {
    const dir = tempDir("hush-audit-x-");
    const { key, state } = await keygen(dir);
    const log = join(dir, "audit.jsonl");
    const a = await daemon(dir, "a", ["--audit-file", log, "--audit-state-file", state, "--audit-seal-every", "1"]);
    await a.issue("one");
    const before = readFileSync(log, "utf8");
    const stateBefore = readFileSync(state, "utf8");

    // The same file and the same state: the state's lock is met first (it is loaded before the log is opened).
    const b = await tryServe(["--socket", join(dir, "b", "hush.sock"), "--audit-file", log, "--audit-state-file", state]);
    expect(b.code).toBe(4);
    expect(b.stderr).toContain(`hush: error: audit state file ${state} is in use by another hush daemon (pid ${a.proc.pid})`);
    expect(b.stderr).toContain(`hush: hint: stop that daemon first (kill -TERM ${a.proc.pid})`);
    // The same file with a state of its own: the audit file's lock.
    const other = await keygen(dir, "other");
    const c = await tryServe(["--socket", join(dir, "c", "hush.sock"), "--audit-file", log, "--audit-state-file", other.state]);
    expect(c.code).toBe(4);
    expect(c.stderr).toContain(`hush: error: audit file ${log} is in use by another hush daemon (pid ${a.proc.pid}): two daemons must not write one audit file`);
    // The same state with another file.
    const d = await tryServe(["--socket", join(dir, "d", "hush.sock"), "--audit-file", join(dir, "other.jsonl"), "--audit-state-file", state]);
    expect(d.code).toBe(4);
    expect(existsSync(join(dir, "other.jsonl"))).toBe(false);
    // Unsealed, the same file: the audit file's lock too.
    const e = await tryServe(["--socket", join(dir, "e", "hush.sock"), "--audit-file", log]);
    expect(e.code).toBe(4);
    expect(e.stderr).toContain(`audit file ${log} is in use by another hush daemon (pid ${a.proc.pid})`);

    expect(readFileSync(log, "utf8")).toBe(before);
    expect(readFileSync(state, "utf8")).toBe(stateBefore);
    await a.issue("two"); // A is unharmed
    expect(await a.stop()).toBe(0);
    const v = await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"]);
    expect(v.stderr).toBe("");
    expect(v.code).toBe(0);
    // Once A has exited, the next daemon takes both over.
    const f = await daemon(dir, "f", ["--audit-file", log, "--audit-state-file", state]);
    expect(await f.stop()).toBe(0);
    expect((await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"])).code).toBe(0);
  }, 60_000);

  test("hush.lock deleted under a running daemon: the next one on its socket directory is refused before it writes a line", async () => {
    const dir = tempDir("hush-audit-x-");
    const { key, state } = await keygen(dir);
    const log = join(dir, "audit.jsonl");
    const a = await daemon(dir, "a", ["--audit-file", log, "--audit-state-file", state]);
    rmSync(join(a.socket, "..", "hush.lock"));
    const before = readFileSync(log, "utf8");
    // The same audit file and state…
    const b = await tryServe(["--socket", a.socket, "--audit-file", log, "--audit-state-file", state]);
    expect(b.code).toBe(4);
    expect(b.stderr).toContain(`hush: error: another program is listening on ${a.socket}`);
    // …or one of its own: the live socket is refused before the audit file is created.
    const own = keygen(dir, "own");
    const mine = join(dir, "mine.jsonl");
    const c = await tryServe(["--socket", a.socket, "--audit-file", mine, "--audit-state-file", (await own).state]);
    expect(c.code).toBe(4);
    expect(existsSync(mine)).toBe(false);
    expect(readFileSync(log, "utf8")).toBe(before);
    expect((await a.cli(["health"])).code).toBe(0);
    expect(await a.stop()).toBe(0);
    expect((await hush(["audit", "verify", "--file", log, "--key-file", key, "--closed"])).code).toBe(0);
  }, 60_000);
});
