/**
 * Two newcomer slips, through dist/hush:
 * - the command after `--` does not exist or cannot run: exit 127 / 126 as
 *   in a shell, found before a token use, a checkout or a daemon is spent
 *   on it;
 * - a key string of the wrong kind, or on the command line: named by its
 *   kind, with where it belongs, never echoed; an admin credential on the
 *   worker commands is `forbidden` (exit 5), as the daemon would answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
let dir: string;
let worker: string;

beforeAll(async () => {
  d = await startDaemon();
  dir = tempDir();
  worker = await d.issue("kc", ["--tags", "ci"]);
  expect((await d.cli(["creds", "put", "api", "--allow", "ci"], { stdin: "v" })).code).toBe(0);
});
afterAll(() => d.cleanup());

const tokenFile = async (name: string) => {
  const f = join(dir, name);
  expect((await d.cli(["token", "create", "--out", f])).code).toBe(0);
  return f;
};
const usesLeft = async (file: string) => {
  const id = /# id: (t_\S+)/.exec(readFileSync(file, "utf8"))![1];
  const t = (await d.cli(["token", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l)).find((x) => x.id === id);
  return t.uses_left;
};

describe("the command after --", () => {
  test("not found: exit 127 before anything is spent (join keeps its token use, checkout takes no lease)", async () => {
    const token = await tokenFile("unused.token");
    const j = await d.cli(["join", "--token-file", token, "--", "no-such-cmd-hush"]);
    expect(j.code).toBe(127);
    expect(j.stderr).toContain("hush: error: command not found: no-such-cmd-hush");
    expect(j.stderr).not.toContain("joined as");
    expect(await usesLeft(token)).toBe(1);

    const c = await d.cli(["checkout", "api", "--", "no-such-cmd-hush"], { env: { HUSH_CREDENTIAL: worker } });
    expect(c.code).toBe(127);
    const creds = JSON.parse((await d.cli(["creds", "list", "--json"])).stdout);
    expect(creds.in_use).toBe(0);

    const tmp = tempDir();
    const r = Bun.spawnSync([HUSH, "run", "--", "no-such-cmd-hush"], { env: { ...process.env, TMPDIR: tmp, XDG_RUNTIME_DIR: "" }, stderr: "pipe" });
    expect(r.exitCode).toBe(127);
    expect(r.stderr.toString()).toContain("command not found: no-such-cmd-hush");
    expect(readdirSync(tmp)).toEqual([]); // no daemon was started for it
  });

  test("--json: the error object names command_not_found; a builtin gets a hint to use sh -c", async () => {
    const r = await d.cli(["checkout", "api", "--json", "--", "cd", "/"], { env: { HUSH_CREDENTIAL: worker } });
    expect(r.code).toBe(127);
    expect(JSON.parse(r.stderr)).toMatchObject({ error: "command_not_found", message: "command not found: cd" });
    expect(JSON.parse(r.stderr).hint).toContain("sh -c");
  });

  test("not executable, or a directory: exit 126", async () => {
    const script = join(dir, "script.sh");
    writeFileSync(script, "#!/bin/sh\necho hi\n", { mode: 0o644 });
    chmodSync(script, 0o644);
    const a = await d.cli(["run", "--", script]);
    expect(a.code).toBe(126);
    expect(a.stderr).toContain(`cannot run ${script}: permission denied (not executable)`);
    const sub = join(dir, "subdir");
    mkdirSync(sub);
    const b = await d.cli(["run", "--", sub]);
    expect(b.code).toBe(126);
    expect(b.stderr).toContain("is a directory");
  });
});

describe("key strings of the wrong kind, or on the command line", () => {
  test("a pasted join token as an argument: refused as a secret on argv, never echoed", async () => {
    const token = await tokenFile("pasted.token");
    const text = readFileSync(token, "utf8").trim().split("\n").pop()!;
    const r = await d.cli(["join", text]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a join token on the command line is refused: secrets never come from argv");
    expect(r.stderr).toContain("--token-file FILE or set HUSH_JOIN_TOKEN");
    expect(r.stderr).not.toContain(text);
    expect(r.stderr).not.toContain(text.slice(0, 30));
    const k = await d.cli(["kv", "get", worker], { env: { HUSH_CREDENTIAL: worker } });
    expect(k.stderr).toContain("a worker credential on the command line is refused");
    expect(k.stderr).not.toContain(worker.slice(0, 30));
  });

  test("HUSH_CREDENTIAL or --credential-file holding a join token, an admin credential or a server key: named, with where it belongs", async () => {
    const token = readFileSync(await tokenFile("kind.token"), "utf8");
    const admin = join(dir, "kind.admin");
    expect((await d.cli(["keygen", "admin", "--out", admin])).code).toBe(0);
    const server = join(dir, "server.key");
    expect((await d.cli(["keygen", "server", "--out", server])).code).toBe(0);

    const j = await d.cli(["kv", "get", "x"], { env: { HUSH_CREDENTIAL: token } });
    expect(j.code).toBe(2);
    expect(j.stderr).toContain("HUSH_CREDENTIAL holds a join token (HUSH-JOIN-1…), not a worker credential (HUSH-WORKER-1…)");
    expect(j.stderr).toContain("hush join");
    const a = await d.cli(["kv", "get", "x"], { env: { HUSH_CREDENTIAL: readFileSync(admin, "utf8") } });
    expect(a.code).toBe(5); // forbidden, as the daemon answers an admin key on a worker route
    expect(a.stderr).toContain("admin credentials cannot use the worker routes");
    expect(a.stderr).toContain("HUSH_ADMIN_CREDENTIAL");
    const s = await d.cli(["kv", "get", "x", "--credential-file", server]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain(`--credential-file ${server} holds the daemon's server key`);
    expect(s.stderr).toContain("keep it off workers");
    const w = await d.cli(["workers", "list"], { env: { HUSH_ADMIN_CREDENTIAL: worker } });
    expect(w.code).toBe(5);
    expect(w.stderr).toContain("worker credentials cannot use the admin routes");
    for (const out of [j, a, s, w]) expect(out.stderr).not.toMatch(/HUSH-[A-Z-]+-1[A-Z0-9]{8}/);
  });

  test("--credential-file naming a directory: 'is a directory', without the chmod warning", async () => {
    const r = await d.cli(["kv", "get", "x", "--credential-file", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--credential-file ${dir} is a directory`);
    expect(r.stderr).not.toContain("chmod");
  });

  test("a key string where a file name belongs is not echoed", async () => {
    const r = await d.cli(["join", "--token-file", worker]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--token-file takes a file name, and this looks like a key string itself");
    expect(r.stderr).not.toContain(worker.slice(0, 30));
  });

  test("a revoked admin credential gets the admin's remedy; rotating an admin key is refused as such", async () => {
    const admin = join(dir, "revoked.admin");
    expect((await d.cli(["keygen", "admin", "--name", "gone", "--out", admin])).code).toBe(0);
    const id = /# id: (a_\S+)/.exec(readFileSync(admin, "utf8"))![1];
    expect((await d.cli(["workers", "revoke", id])).code).toBe(0);
    const r = await d.cli(["token", "list", "--admin-credential-file", admin]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("hush keygen admin");
    expect(r.stderr).not.toContain("hush workers issue");
    const rot = await d.cli(["rotate", "worker", id]);
    expect(rot.code).toBe(2);
    expect(rot.stderr).toContain(`${id} is an admin key: admin keys cannot be rotated`);
  });
});
