/**
 * The environment of the commands hush starts (`hush join -- CMD`,
 * `hush run -- CMD`, `hush checkout NAME -- CMD`), through the compiled
 * binary: a join token never reaches a child, spent or not, so a child or
 * grandchild cannot join again with it; `hush run`'s child reaches the run's
 * own daemon whatever the caller's HUSH_URL or HUSH_SOCKET_OWNER say.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HUSH, startDaemon, type Daemon } from "./_harness.ts";

let d: Daemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

/** A join token good for `uses` joins, tagged ci. */
async function mkToken(uses = 2): Promise<string> {
  const r = await d.cli(["token", "create", "--uses", String(uses), "--tags", "ci"]);
  expect(r.code).toBe(0);
  return r.stdout.trim();
}

/** The child's environment printed by `env`, as a map. */
function parseEnv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

function expectNoToken(stdout: string, token: string): void {
  const env = parseEnv(stdout);
  expect(env.has("HUSH_JOIN_TOKEN")).toBe(false);
  // Not under another name either.
  expect(stdout).not.toContain(token);
  expect(stdout).not.toContain("HUSH-JOIN-1");
}

describe("a join token never reaches a child", () => {
  test("hush join -- env: the child has its credential and no token", async () => {
    const token = await mkToken();
    const r = await d.cli(["join", "--", "env"], { env: { HUSH_JOIN_TOKEN: token } });
    expect(r.code).toBe(0);
    expect(parseEnv(r.stdout).get("HUSH_CREDENTIAL")).toStartWith("HUSH-WORKER-1");
    expectNoToken(r.stdout, token);
  });

  test("a grandchild of hush join cannot join again with the parent's token (it had uses left)", async () => {
    const token = await mkToken(2);
    const r = await d.cli(["join", "--", "sh", "-c", `"${HUSH}" join >/dev/null; echo "inner exit $?"`], { env: { HUSH_JOIN_TOKEN: token } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("inner exit 2");
    expect(r.stderr).toContain("hush: error: no join token");
  });

  test("hush join --token-file -- env: a HUSH_JOIN_TOKEN in the environment is not passed on either", async () => {
    const token = await mkToken();
    const other = await mkToken();
    const { writeFileSync } = await import("node:fs");
    const file = `${d.dir}/t.token`;
    writeFileSync(file, token, { mode: 0o600 });
    const r = await d.cli(["join", "--token-file", file, "--", "env"], { env: { HUSH_JOIN_TOKEN: other } });
    expect(r.code).toBe(0);
    expectNoToken(r.stdout, other);
    expectNoToken(r.stdout, token);
  });

  test("hush run -- env and hush checkout NAME -- env: no token", async () => {
    const token = await mkToken();
    const run = await d.cli(["run", "--", "env"], { env: { HUSH_JOIN_TOKEN: token } });
    expect(run.code).toBe(0);
    expect(parseEnv(run.stdout).get("HUSH_CREDENTIAL")).toStartWith("HUSH-WORKER-1");
    expectNoToken(run.stdout, token);

    expect((await d.cli(["creds", "put", "db/password", "--allow", "ci"], { stdin: "s3cret\n" })).code).toBe(0);
    const cred = await d.issue("ci", ["--tags", "ci"]);
    const co = await d.cli(["checkout", "db/password", "--", "env"], { env: { HUSH_CREDENTIAL: cred, HUSH_JOIN_TOKEN: token } });
    expect(co.code).toBe(0);
    expect(parseEnv(co.stdout).get("DB_PASSWORD")).toBe("s3cret");
    expectNoToken(co.stdout, token);
  });
});

describe("hush run: the child reaches the run's own daemon", () => {
  test("HUSH_URL, HUSH_TLS_PIN and HUSH_SOCKET_OWNER of the caller are not passed on", async () => {
    const r = await d.cli(["run", "--", "sh", "-c", `env; printf v | "${HUSH}" kv set k --ttl 1m && "${HUSH}" kv get k`], {
      env: { HUSH_URL: "https://127.0.0.1:9", HUSH_TLS_PIN: "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", HUSH_SOCKET_OWNER: "nobody" },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const env = parseEnv(r.stdout);
    for (const k of ["HUSH_URL", "HUSH_TLS_PIN", "HUSH_SOCKET_OWNER"]) expect(env.has(k)).toBe(false);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("v");
  });
});
