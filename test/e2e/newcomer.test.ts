/**
 * Problems a newcomer met with the compiled binary: `hush health` follows
 * the credential's `# addresses:` line like every other command and names
 * the daemon that answered (and those that are down); lock, revoke and
 * flag messages say what happened.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let live: Daemon;
let cred: string;
let deadAddr: string;
const cleanup: Daemon[] = [];
const NO_TARGET = { HUSH_SOCKET: undefined, HUSH_URL: undefined, HUSH_CREDENTIAL: undefined, HUSH_ADMIN_CREDENTIAL: undefined, HUSH_TLS_PIN: undefined, HUSH_TRANSPORT: undefined, XDG_RUNTIME_DIR: tempDir() };

beforeAll(async () => {
  live = await startDaemon();
  cleanup.push(live);
  cred = await live.issue("newcomer");
  const killed = await startDaemon();
  cleanup.push(killed);
  killed.proc.kill("SIGKILL");
  await killed.proc.exited;
  deadAddr = `unix:${killed.socket}`;
});

afterAll(() => {
  for (const d of cleanup) d.cleanup();
});

describe("hush health follows the credential's # addresses line", () => {
  test("from $HUSH_CREDENTIAL: names the daemon that answered and the one that is down", async () => {
    const text = `# addresses: ${deadAddr},unix:${live.socket}\n${cred}\n`;
    const r = await hush(["health"], { env: { ...NO_TARGET, HUSH_CREDENTIAL: text } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ready (hush `);
    expect(r.stdout).toContain(`unix:${live.socket}`);
    expect(r.stdout).toMatch(new RegExp(`down: ${deadAddr.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
    const j = await hush(["health", "--json"], { env: { ...NO_TARGET, HUSH_CREDENTIAL: text } });
    expect(JSON.parse(j.stdout)).toMatchObject({ ready: true, url: `unix:${live.socket}`, down: [deadAddr] });
  });

  test("from --credential-file", async () => {
    const file = join(tempDir(), "cred");
    writeFileSync(file, `# addresses: unix:${live.socket}\n${cred}\n`, { mode: 0o600 });
    const r = await hush(["health", "--credential-file", file], { env: NO_TARGET });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`unix:${live.socket}`);
  });
});

describe("messages say what happened", () => {
  test("lock acquire with --wait that times out does not tell you to pass --wait", async () => {
    const other = await live.issue("lock-holder");
    const env = { HUSH_SOCKET: live.socket, HUSH_URL: undefined, HUSH_CREDENTIAL: other };
    expect((await hush(["lock", "acquire", "newcomer/l", "--ttl", "30s"], { env })).code).toBe(0);
    const mine = { ...env, HUSH_CREDENTIAL: cred };
    const waited = await hush(["lock", "acquire", "newcomer/l", "--ttl", "10s", "--wait", "300ms"], { env: mine });
    expect(waited.code).toBe(4);
    expect(waited.stderr).toContain("lock newcomer/l is held");
    expect(waited.stderr).not.toContain("pass --wait");
    expect(waited.stderr).toContain("longer --wait");
    const bare = await hush(["lock", "acquire", "newcomer/l", "--ttl", "10s"], { env: mine });
    expect(bare.code).toBe(4);
    expect(bare.stderr).toContain("pass --wait DURATION");
  });

  test("revoking a revoked worker says already revoked, exit 0", async () => {
    await live.issue("to-revoke");
    const list = (await live.cli(["workers", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    const id = list.find((w: { name: string }) => w.name === "to-revoke").id;
    const first = await live.cli(["workers", "revoke", id]);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe(`hush: revoked ${id} (to-revoke)\n`);
    const again = await live.cli(["workers", "revoke", id]);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe(`hush: ${id} (to-revoke) was already revoked\n`);
  });
});

describe("an unknown flag is named when its name cannot carry a secret", () => {
  test("a lowercase flag name is echoed (before any =), with a did-you-mean; anything else is not", async () => {
    const env = { HUSH_SOCKET: live.socket, HUSH_URL: undefined, HUSH_CREDENTIAL: cred };
    const a = await hush(["kv", "get", "k", "--jsno"], { env });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("unknown flag --jsno (`hush kv get` has no such option)");
    expect(a.stderr).toContain("did you mean --json?");
    const b = await hush(["kv", "get", "k", "--bogus=HUSH-WORKER-1secretvalue"], { env });
    expect(b.stderr).toContain("unknown flag --bogus (`hush kv get`");
    expect(b.stderr).not.toContain("secretvalue");
    for (const word of ["--HUSH-WORKER-1abcDEF", "-aB3xYz_9", `--${"x".repeat(40)}`]) {
      const c = await hush(["kv", "get", "k", word], { env });
      expect(c.code).toBe(2);
      expect(c.stderr).toContain("unknown flag (`hush kv get` has no such option)");
      expect(c.stderr).not.toContain(word.slice(2));
    }
    const g = await hush(["kv", "--bogus"], { env });
    expect(g.stderr).toContain("unknown flag --bogus (`hush kv` takes none before its command)");
  });
});

describe("the SDK words the daemon's refusals in its own option names", () => {
  test("set with ttlMs: 0 says ttlMs, not ttl_ms; the CLI still says --ttl", async () => {
    const { Client, HushError } = await import("../../src/client/index.ts");
    for (const transport of ["http", "ws"] as const) {
      const c = new Client({ socket: live.socket, credential: cred, transport });
      try {
        const e = await c.set("b", 1, { ttlMs: 0 }).catch((x) => x);
        expect(e).toBeInstanceOf(HushError);
        expect(e.code).toBe("invalid_ttl");
        expect(e.message).toContain("ttlMs 0");
        expect(e.message).not.toContain("ttl_ms");
      } finally {
        c.close();
      }
    }
    const r = await hush(["kv", "set", "b", "--ttl", "0s"], { env: { HUSH_SOCKET: live.socket, HUSH_URL: undefined, HUSH_CREDENTIAL: cred }, stdin: "1" });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain("ttlMs");
  });
});
