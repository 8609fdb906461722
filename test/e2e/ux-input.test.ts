/**
 * The CLI as a new user meets it, part 1: input. Nothing on the command line
 * is silently ignored (values on argv, empty stdin, extra arguments, a
 * command without `--`), and mistakes are named in the user's words (flags
 * and durations, not wire fields). Everything through dist/hush.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  d = await startDaemon();
  env = { HUSH_CREDENTIAL: await d.issue("ux-input") };
  dir = tempDir();
});
afterAll(() => d.cleanup());

const stored = async (key: string) => d.cli(["kv", "get", key, "--json"], { env });

describe("values come from stdin or --value-file, never argv", () => {
  test("a value on the command line is refused (exit 2), with or without a pipe; nothing is stored", async () => {
    for (const stdin of [undefined, "piped\n"]) {
      const r = await d.cli(["kv", "set", "argvkey", "my-argv-value", "--ttl", "1m"], { env, stdin });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("values are read from stdin or --value-file, never from the command line");
      expect(r.stderr).not.toContain("my-argv-value"); // never echoed: it may be a secret
      expect((await stored("argvkey")).code).toBe(3);
    }
    const c = await d.cli(["creds", "put", "db/pw", "hunter2"], { stdin: "x" });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("never from the command line");
    expect(c.stderr).not.toContain("hunter2");
  });

  test("an empty stdin is refused unless --allow-empty", async () => {
    const r = await d.cli(["kv", "set", "empty", "--ttl", "1m"], { env }); // stdin is /dev/null
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the value is empty");
    expect(r.stderr).toContain("--allow-empty");
    expect((await stored("empty")).code).toBe(3);
    expect((await d.cli(["kv", "set", "empty", "--ttl", "1m", "--allow-empty"], { env })).code).toBe(0);
    expect(JSON.parse((await stored("empty")).stdout).value).toBe("");
    const c = await d.cli(["creds", "put", "db/empty", "--allow", "ci"], { stdin: "\n" });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("the value is empty");
  });

  test("--value-file: a regular file is read (one newline dropped); others are refused; loose modes warned", async () => {
    const f = join(dir, "value.txt");
    writeFileSync(f, "from-a-file\n", { mode: 0o600 });
    expect((await d.cli(["kv", "set", "vf", "--ttl", "1m", "--value-file", f], { env })).code).toBe(0);
    expect(JSON.parse((await stored("vf")).stdout).value).toBe("from-a-file");
    const put = await d.cli(["creds", "put", "api", "--value-file", f, "--allow", "ci"]);
    expect(put.code).toBe(0);
    expect(put.stderr).not.toContain("readable by other users");
    chmodSync(f, 0o644);
    const loose = await d.cli(["kv", "set", "vf", "--ttl", "1m", "--value-file", f], { env });
    expect(loose.code).toBe(0);
    expect(loose.stderr).toContain("readable by other users");
    const fifo = join(dir, "fifo");
    Bun.spawnSync(["mkfifo", fifo]);
    for (const bad of [dir, fifo, "/dev/zero"]) {
      const r = await d.cli(["kv", "set", "vf", "--ttl", "1m", "--value-file", bad], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("is not a regular file");
    }
    expect((await d.cli(["kv", "set", "vf", "--ttl", "1m", "--value-file", join(dir, "none")], { env })).stderr).toContain("does not exist");
  });
});

describe("arguments nobody asked for are refused", () => {
  test("hush run/join/checkout with a command but no -- suggest --", async () => {
    for (const argv of [["run", "sh", "-c", "true"], ["join", "sh", "-c", "true"], ["checkout", "db/pw", "psql", "-h", "db"]]) {
      const r = await d.cli(argv, { env });
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain("unknown flag");
      expect(r.stderr).toContain("to run a command, put it after --");
      expect(r.stderr).toContain("-- CMD [ARGS…]");
    }
  });

  test("after --, other commands take arguments (a key that starts with -)", async () => {
    expect((await d.cli(["kv", "set", "--ttl", "1m", "--", "-odd-key"], { env, stdin: "v" })).code).toBe(0);
    expect((await d.cli(["kv", "get", "--", "-odd-key"], { env })).stdout).toBe("v\n");
    expect((await d.cli(["kv", "get", "--", "-odd-key", "more"], { env })).code).toBe(2);
  });

  test("a flag without its value, a missing argument or a missing required flag is named", async () => {
    const a = await d.cli(["kv", "set", "k", "--ttl"], { env, stdin: "v" });
    expect(a).toMatchObject({ code: 2 });
    expect(a.stderr).toContain("--ttl needs a value (DURATION)");
    expect((await stored("k")).code).toBe(3);
    const b = await d.cli(["kv", "get"], { env });
    expect(b.stderr).toContain("missing argument KEY");
    expect(b.stderr).toContain("usage: hush kv get [OPTIONS] <KEY>");
    const c = await d.cli(["lock", "acquire", "l1"], { env });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("--ttl is required");
    const e = await d.cli(["kv", "get", "k", "--jsno"], { env });
    // A lowercase flag name cannot carry a hush secret: it is named (newcomer.test.ts has the words that are not).
    expect(e.stderr).toContain("unknown flag --jsno (`hush kv get` has no such option)");
    expect(e.stderr).toContain("did you mean --json?");
  });
});

describe("errors in the user's words", () => {
  test("TTLs: the flag's name and units, checked before the request, from the daemon's own table", async () => {
    const cases: [string[], string][] = [
      [["checkout", "api", "--ttl", "25h"], "--ttl must be at most 24h"],
      [["workers", "issue", "--name", "x", "--ttl", "31d"], "--ttl must be at most 30d"],
      [["workers", "issue", "--name", "x", "--ttl", "1ms"], "--ttl must be at least 1m"],
      [["keygen", "admin", "--ttl", "10s"], "--ttl must be at least 1m"],
      [["token", "create", "--worker-ttl", "31d"], "--worker-ttl must be at most 30d"],
      [["lock", "acquire", "l", "--ttl", "31d"], "--ttl must be at most 30d"],
    ];
    for (const [argv, msg] of cases) {
      const r = await d.cli(argv, { env });
      expect({ argv, code: r.code, err: r.stderr.split("\n")[0] }).toEqual({ argv, code: 2, err: `hush: error: ${msg}` });
    }
    const names = (await d.cli(["workers", "list", "--json"])).stdout;
    expect(names).not.toContain('"name":"x"'); // refused before anything was minted
  });

  test("a key that must be rotated says how, in CLI and SDK terms", async () => {
    const cred = await d.issue("to-rotate");
    const id = JSON.parse((await d.cli(["workers", "list", "--json"])).stdout.trim().split("\n").find((l) => l.includes('"to-rotate"'))!).id;
    expect((await d.cli(["rotate", "worker", id])).code).toBe(0);
    const r = await d.cli(["kv", "list"], { env: { HUSH_CREDENTIAL: cred } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("hush join");
    expect(r.stderr).toContain("rekey()");
    expect(r.stderr).not.toContain("POST /v1/rekey");
  });

  test("HUSH_CREDENTIAL holding a file name or garbage: not a credential, and --credential-file suggested", async () => {
    const a = await d.cli(["kv", "get", "x"], { env: { HUSH_CREDENTIAL: "build.cred" } });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("HUSH_CREDENTIAL is not a HUSH-WORKER-1… string");
    expect(a.stderr).toContain("pass --credential-file build.cred");
    expect(a.stderr).not.toContain("letter case");
    const b = await d.cli(["kv", "get", "x"], { env: { HUSH_CREDENTIAL: "Garbage Secret" } });
    expect(b.stderr).toContain("HUSH_CREDENTIAL is not a HUSH-WORKER-1… string");
    expect(b.stderr).not.toContain("Garbage Secret");
    const c = await d.cli(["workers", "list"], { env: { HUSH_ADMIN_CREDENTIAL: "ops.admin" } });
    expect(c.stderr).toContain("pass --admin-credential-file ops.admin");
    const j = await d.cli(["join"], { env: { HUSH_JOIN_TOKEN: "join.token" } });
    expect(j.code).toBe(2);
    expect(j.stderr).toContain("pass --token-file join.token");
  });

  test("kv del of a missing key says so (exit 3)", async () => {
    const r = await d.cli(["kv", "del", "never-set"], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("hush: error: no such key: never-set");
  });

  test("serve: --cred without '=', a command that is not found, a 0755 socket directory, --max-value above --max-body", async () => {
    const sock = () => join(tempDir(), "s", "hush.sock");
    const a = await hush(["serve", "--socket", sock(), "--cred", "foo"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('(it has no "=")');
    expect(a.stderr).not.toContain("=…");
    const b = await hush(["serve", "--socket", sock(), "--cred", "x=exec:no-such-command-hush"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--cred x: command not found");
    const open = join(tempDir(), "open");
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const c = await hush(["serve", "--socket", join(open, "hush.sock")]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain(`hush: hint: run \`chmod 700 ${open}\``);
    const e = await hush(["serve", "--socket", sock(), "--max-value", "2m"]);
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("--max-value (2 MiB) must be smaller than --max-body (1 MiB)");
  });
});
