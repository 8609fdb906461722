/**
 * The CLI as a user drives it: stdin for values, credentials from env or
 * file, errors with hints and meaningful exit codes, and no secret in any
 * output of the daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
let cred: string;
let env: Record<string, string>;
const SECRET = "pa55-Secret-Value-" + crypto.randomUUID();

beforeAll(async () => {
  d = await startDaemon();
  cred = await d.issue("cli-test", ["--tags", "ci,linux"]);
  env = { HUSH_CREDENTIAL: cred };
});
afterAll(() => d.cleanup());

describe("kv", () => {
  test("set reads stdin, get prints it back", async () => {
    expect((await d.cli(["kv", "set", "app/token", "--ttl", "5m"], { stdin: SECRET + "\n", env })).code).toBe(0);
    const r = await d.cli(["kv", "get", "app/token"], { env });
    expect(r).toMatchObject({ code: 0, stdout: SECRET + "\n" });
    const j = JSON.parse((await d.cli(["kv", "get", "app/token", "--json"], { env })).stdout);
    expect(j.value).toBe(SECRET);
    expect(j.expires_at).toBeGreaterThan(Date.now());
  });
  test("--json-value stores JSON", async () => {
    expect((await d.cli(["kv", "set", "cfg", "--ttl", "1m", "--json-value"], { stdin: '{"port":5432}', env })).code).toBe(0);
    expect((await d.cli(["kv", "get", "cfg"], { env })).stdout).toBe('{"port":5432}\n');
  });
  test("list, incr, del", async () => {
    expect((await d.cli(["kv", "list", "app/"], { env })).stdout).toBe("app/token\n");
    expect((await d.cli(["kv", "incr", "n", "--ttl", "1m"], { env })).stdout).toBe("1\n");
    expect((await d.cli(["kv", "incr", "n", "--by", "41"], { env })).stdout).toBe("42\n");
    expect((await d.cli(["kv", "incr", "n", "--by", "-2"], { env })).stdout).toBe("40\n");
    expect((await d.cli(["kv", "del", "n"], { env })).code).toBe(0);
    expect((await d.cli(["kv", "del", "n"], { env })).code).toBe(3);
  });
  test("a missing TTL is refused with a hint (exit 2)", async () => {
    const r = await d.cli(["kv", "set", "x"], { stdin: "v", env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hush: error:");
    expect(r.stderr).toContain("hush: hint: pass --ttl");
  });
  test("a missing key exits 3", async () => {
    const r = await d.cli(["kv", "get", "nope"], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^hush: error: /);
  });
  test("no credential: exit 2 with a hint", async () => {
    const r = await d.cli(["kv", "get", "x"], { env: { HUSH_CREDENTIAL: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hush: hint: set HUSH_CREDENTIAL or pass --credential-file");
  });
  test("a daemon that is not running: exit 6 with a hint", async () => {
    const r = await hush(["kv", "get", "x"], { env: { HUSH_SOCKET: join(tempDir(), "none.sock"), ...env } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("hush: hint: is `hush serve` running?");
  });
  test("an unknown flag or missing argument is a usage error (exit 2)", async () => {
    expect((await d.cli(["kv", "get"], { env })).code).toBe(2);
  });
});

describe("locks and pools", () => {
  test("second acquire conflicts (exit 4); release with the token frees it", async () => {
    const a = await d.cli(["lock", "acquire", "deploy", "--ttl", "30s"], { env });
    expect(a.code).toBe(0);
    const token = a.stdout.trim();
    expect(Number(token)).toBeGreaterThan(0);
    expect((await d.cli(["lock", "acquire", "deploy", "--ttl", "30s"], { env })).code).toBe(4);
    expect((await d.cli(["lock", "renew", "deploy", "--token", token, "--ttl", "1m"], { env })).code).toBe(0);
    expect((await d.cli(["lock", "release", "deploy", "--token", token], { env })).code).toBe(0);
    const b = await d.cli(["lock", "acquire", "deploy", "--ttl", "30s"], { env });
    expect(Number(b.stdout)).toBeGreaterThan(Number(token));
  });
  test("pool lease gives the smallest free slot and conflicts when full", async () => {
    const s0 = await d.cli(["pool", "lease", "accts", "--size", "2", "--ttl", "1m"], { env });
    const s1 = await d.cli(["pool", "lease", "accts", "--size", "2", "--ttl", "1m"], { env });
    expect(s0.stdout.split(" ")[0]).toBe("0");
    expect(s1.stdout.split(" ")[0]).toBe("1");
    expect((await d.cli(["pool", "lease", "accts", "--size", "2", "--ttl", "1m"], { env })).code).toBe(4);
    expect((await d.cli(["pool", "release", "accts", "--token", s0.stdout.split(" ")[1].trim()], { env })).code).toBe(0);
    expect((await d.cli(["pool", "lease", "accts", "--size", "2", "--ttl", "1m"], { env })).stdout.split(" ")[0]).toBe("0");
  });
});

describe("workers", () => {
  test("issue --out writes 0600 exclusively and never overwrites", async () => {
    const out = join(tempDir(), "w.cred");
    const r = await d.cli(["workers", "issue", "--name", "filed", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const text = readFileSync(out, "utf8");
    expect(text).toContain("# created: ");
    expect(text).toMatch(/^HUSH-WORKER-1[0-9A-Z]+$/m);
    const again = await d.cli(["workers", "issue", "--name", "filed", "--out", out]);
    expect(again.code).toBe(4);
    expect(readFileSync(out, "utf8")).toBe(text);
    // The refused path was checked before the daemon minted anything.
    const names = (await d.cli(["workers", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l).name);
    expect(names.filter((n) => n === "filed")).toHaveLength(1);
    // The whole key file works as --credential-file.
    expect((await d.cli(["kv", "list", "--credential-file", out])).code).toBe(0);
  });
  test("list shows ids and tags, never keys; revoke takes effect on the next request", async () => {
    const c2 = await d.issue("to-revoke");
    expect((await d.cli(["kv", "list"], { env: { HUSH_CREDENTIAL: c2 } })).code).toBe(0);
    const list = (await d.cli(["workers", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    const w = list.find((x) => x.name === "to-revoke");
    expect(w.status).toBe("active");
    expect(list.find((x) => x.name === "cli-test").tags).toEqual(["ci", "linux"]);
    expect(JSON.stringify(list)).not.toContain("HUSH-WORKER");
    expect((await d.cli(["workers", "revoke", w.id])).code).toBe(0);
    const r = await d.cli(["kv", "list"], { env: { HUSH_CREDENTIAL: c2 } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("authentication failed");
    expect(d.log()).toContain('"reason":"revoked"');
  });
  test("invalid name is refused", async () => {
    const r = await d.cli(["workers", "issue", "--name", "bad name!"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("name must be");
  });
});

describe("binary", () => {
  test("version prints version and commit", async () => {
    const r = await hush(["version"]);
    expect(r.stdout).toMatch(/^hush \d+\.\d+\.\d+ \(commit [0-9a-f]{12}(-dirty)?|unknown/);
  });
  test("--help explains commands with examples; exit 0", async () => {
    const r = await hush(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("workers");
    expect(r.stdout).toContain("Exit codes:");
    const s = await hush(["kv", "set", "--help"]);
    expect(s.stdout).toContain("Values are never taken from the command line");
  });
  test("a .env or bunfig.toml in the working directory is not loaded", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, ".env"), `HUSH_SOCKET=${d.socket}\nHUSH_CREDENTIAL=${cred}\n`);
    writeFileSync(join(cwd, "bunfig.toml"), `preload = ["./evil.ts"]\n`);
    writeFileSync(join(cwd, "evil.ts"), `console.log("EVIL-PRELOAD-RAN");\n`);
    const r = await hush(["kv", "list"], { cwd, env: { HUSH_SOCKET: undefined, HUSH_CREDENTIAL: undefined } });
    expect(r.stdout + r.stderr).not.toContain("EVIL-PRELOAD-RAN");
    expect(r.code).toBe(2); // no credential: .env was ignored
  });
});

describe("secrets never leak", () => {
  test("the daemon's output holds neither the value nor the credential, in any encoding", async () => {
    await d.cli(["kv", "get", "app/token"], { env });
    const log = d.log();
    const b = Buffer.from(SECRET);
    const forms = [SECRET, b.toString("base64"), b.toString("base64url"), b.toString("hex"), encodeURIComponent(SECRET), cred, cred.slice(13, 60)];
    for (const f of forms) expect(log).not.toContain(f);
    expect(existsSync(d.socket)).toBe(true);
  });
});
