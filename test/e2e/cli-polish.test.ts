/**
 * Rough edges a newcomer met, through the compiled binary: `hush status`
 * names the daemon that answered (with several addresses, the first that
 * could be reached, and those that could not); `hush audit verify` over
 * several files sizes its table's columns to what they hold; issuing a
 * worker, an admin key or a join token is audited under its own action
 * (`admin.workers.issue`, `admin.admins.issue`, `admin.tokens.create`);
 * an admin command refused a `unix:` address names the socket it was given,
 * not a controller's URL; and with an admin credential `audit tail` takes a
 * `unix:` address like every other command. Terminal output is made with
 * util-linux `script`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { AuditWriter } from "../../src/audit/index.ts";

const SCRIPT = Bun.which("script");
if (!SCRIPT) console.warn("SKIP terminal output checks: util-linux `script` is not installed (it provides the pseudo-terminal)");
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run hush with stdout on a pseudo-terminal; returns what the terminal showed. */
function onTerminal(args: string[], env: Record<string, string | undefined>): string {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, TERM: "xterm", NO_COLOR: "1", ...env })) if (v !== undefined) e[k] = v;
  const r = Bun.spawnSync([SCRIPT!, "-qec", [HUSH, ...args].map(q).join(" "), "/dev/null"], { env: e, stdin: "ignore", stdout: "pipe" });
  return r.stdout.toString().replace(/\r/g, "");
}

/** The environment of a CLI run that names its daemon only through what the test passes. */
const NO_TARGET = { HUSH_SOCKET: undefined, HUSH_URL: undefined, HUSH_CREDENTIAL: undefined, HUSH_ADMIN_CREDENTIAL: undefined, HUSH_TLS_PIN: undefined };

let d: Daemon;
let dir: string;
let cred: string;
let auditFile: string;
/** A socket path where no daemon listens (its directory exists, the socket file does not). */
let missing: string;

beforeAll(async () => {
  dir = tempDir("hush-cli-polish-");
  auditFile = join(dir, "audit.log");
  d = await startDaemon(["--audit-file", auditFile]);
  cred = await d.issue("polish");
  mkdirSync(join(dir, "gone"), { mode: 0o700 });
  missing = join(dir, "gone", "hush.sock");
});
afterAll(() => d.cleanup());

describe("hush status names the daemon that answered", () => {
  test("HUSH_URL with a dead address first: --json has url and down; the terminal shows a daemon line", async () => {
    const list = `unix:${missing},unix:${d.socket}`;
    const env = { ...NO_TARGET, HUSH_URL: list, HUSH_CREDENTIAL: cred };
    const r = await hush(["status", "--json"], { env });
    expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ status: "ok", url: `unix:${d.socket}`, down: [`unix:${missing}`] });
    if (SCRIPT) {
      const out = onTerminal(["status"], env);
      expect(out).toMatch(/^status +ok\n/);
      expect(out).toContain(`daemon     unix:${d.socket} (down: unix:${missing})\n`);
    }
  });

  test("--url and a credential file's # addresses line name it the same way; one socket is named too", async () => {
    const r = await hush(["status", "--json", "--url", `unix:${d.socket},unix:${missing}`], { env: { ...NO_TARGET, HUSH_CREDENTIAL: cred } });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.url).toBe(`unix:${d.socket}`);
    expect(s.down).toBeUndefined();
    const file = join(dir, "listed.cred");
    writeFileSync(file, `# addresses: unix:${missing},unix:${d.socket}\n${cred}\n`, { mode: 0o600 });
    const f = await hush(["status", "--json", "--credential-file", file], { env: NO_TARGET });
    expect(f.code).toBe(0);
    expect(JSON.parse(f.stdout)).toMatchObject({ url: `unix:${d.socket}`, down: [`unix:${missing}`] });
    // One socket (HUSH_SOCKET, as the owner: the answer comes from admin.sock): named as a socket.
    const one = await hush(["status", "--json"], { env: { ...NO_TARGET, HUSH_SOCKET: d.socket } });
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout).socket).toBe(d.admin);
  });

  test("kv output stays the bare value (nothing added to stdout or stderr)", async () => {
    const env = { ...NO_TARGET, HUSH_URL: `unix:${missing},unix:${d.socket}`, HUSH_CREDENTIAL: cred };
    expect((await hush(["kv", "set", "polish/k", "--ttl", "1m"], { env, stdin: "v" })).code).toBe(0);
    const g = await hush(["kv", "get", "polish/k"], { env });
    expect({ out: g.stdout, err: g.stderr }).toEqual({ out: "v\n", err: "" });
  });
});

describe("hush audit verify with several files: the table's columns fit their content", () => {
  test("long action names and targets stay in their columns; --json is unchanged", async () => {
    const files = ["node-a.log", "node-b.log"].map((n) => join(dir, n));
    let t = 1_790_000_000_000;
    const actions = ["admin.server-key.activate", "kv.get", "admin.workers.revoke", "cred.checkout"];
    for (const [f, path] of files.entries()) {
      const w = AuditWriter.open({ path, now: () => (t += 7) });
      for (const [i, action] of actions.entries()) {
        w.record({ actor: `w_node${f}actor${i}`, via: "admin", action, target: i % 2 ? "k" : `a-rather-long-target-name-${i}`, result: "ok" });
      }
      w.close();
    }
    const r = await hush(["audit", "verify", ...files]);
    expect(r.code).toBe(0); // chain only (no --key-file): a warning on stderr says so
    const table = r.stdout.split("\n\n")[0]!.split("\n");
    const header = table[0]!;
    const col = (name: string) => header.indexOf(name);
    const events = table.filter((l) => l.includes("w_node"));
    expect(events.length).toBe(8);
    for (const row of events) {
      // Each cell starts where its header does, after a space.
      for (const [name, re] of [["ACTOR", /^w_node\d+actor\d /], ["VIA", /^admin /], ["ACTION", /^(admin|kv|cred)\.\S+ /], ["TARGET", /^(k|a-rather-long-target-name-\d) /]] as const) {
        expect({ row, name, cell: re.test(row.slice(col(name))), before: row[col(name) - 1] }).toEqual({ row, name, cell: true, before: " " });
      }
    }
    // Short columns take no more room than their header or content (SEQ holds one digit here).
    expect(header).toMatch(/^LOG +SEQ  TIME/);
    expect(header.indexOf("TIME") - header.indexOf("SEQ")).toBe(5);
    const json = await hush(["audit", "verify", "--json", ...files]);
    const o = JSON.parse(json.stdout);
    expect(Object.keys(o)).toEqual(["ok", "logs", "lines"]);
    expect(o.lines.filter((l: any) => l.line.type === "event").map((l: any) => l.line.action)).toHaveLength(8);
  });
});

describe("admin changes that make something are audited under their own action", () => {
  test("workers issue, keygen admin and token create; audit tail --action finds each", async () => {
    expect((await d.cli(["keygen", "admin", "--name", "polish-admin"])).code).toBe(0);
    expect((await d.cli(["token", "create"])).code).toBe(0);
    const actions = readFileSync(auditFile, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === "event")
      .map((l) => l.action);
    expect(actions).toContain("admin.workers.issue");
    expect(actions).toContain("admin.admins.issue");
    expect(actions).toContain("admin.tokens.create");
    expect(actions.filter((a) => a === "admin.workers" || a === "admin.admins" || a === "admin.tokens")).toEqual([]);
    const tail = await hush(["audit", "tail", "--file", auditFile, "--action", "admin.workers.issue", "--json"]);
    expect(tail.code).toBe(0);
    const got = tail.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(got.length).toBeGreaterThanOrEqual(1);
    expect(got.every((l) => l.action === "admin.workers.issue")).toBe(true);
  });
});

describe("an admin command given a unix: address names the socket, not a controller's URL", () => {
  test("workers list, keygen admin and audit tail with HUSH_URL or --url set to unix:PATH", async () => {
    const runs = [
      await hush(["workers", "list"], { env: { ...NO_TARGET, HUSH_URL: `unix:${d.socket}` } }),
      await hush(["workers", "list", "--url", `unix:${d.socket}`], { env: NO_TARGET }),
      await hush(["keygen", "admin"], { env: { ...NO_TARGET, HUSH_URL: `unix:${d.socket}` } }),
    ];
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain("controller");
      expect(r.stderr).toContain(`the socket ${d.socket}`);
      expect(r.stderr).toContain(`--socket ${d.socket}`);
    }
    // With an admin credential, a unix: address is that daemon's hush.sock, for audit tail too (it said "needs https://").
    const adminCred = join(dir, "admin.cred");
    expect((await d.cli(["keygen", "admin", "--name", "polish-tail", "--out", adminCred])).code).toBe(0);
    for (const args of [["--url", `unix:${d.socket}`], []]) {
      const tail = await hush(["audit", "tail", "--json", "-n", "1", "--admin-credential-file", adminCred, ...args], { env: { ...NO_TARGET, HUSH_URL: `unix:${d.socket}` } });
      expect({ code: tail.code, err: tail.stderr }).toEqual({ code: 0, err: "" });
      expect(JSON.parse(tail.stdout).seq).toBeGreaterThan(1);
    }
    // A TLS URL keeps the controller's wording.
    const tls = await hush(["workers", "list"], { env: { ...NO_TARGET, HUSH_URL: "https://127.0.0.1:9" } });
    expect(tls.code).toBe(2);
    expect(tls.stderr).toContain("controller");
  });
});
