/**
 * What the commands that hush starts can and cannot get (src/os/env.ts,
 * src/os/harden.ts; SECURITY.md "What a command started by hush gets"),
 * through the compiled binary:
 * - a command started by `hush join -- CMD` or `hush checkout NAME -- CMD`,
 *   running as the same uid (nobody), cannot read its parent's
 *   /proc/PID/environ or /proc/PID/mem (the parent holds the join token or
 *   the worker credential while it waits), while a control process of that
 *   uid can be read;
 * - the parent's environment block no longer holds those secrets at all
 *   (root, which may read it, sees `NAME=` and zeros);
 * - `hush run`, `hush join` and `hush checkout` hand their command none of
 *   hush's own secrets from the caller's environment, only the one they
 *   mean to (admin commands inside a run then use the run's admin.sock);
 * - an `exec:` credential source gets neither hush's secrets nor the
 *   variables that `env:` sources read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

const NOBODY = 65534;
const AS_NOBODY = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
const isRoot = process.platform === "linux" && process.getuid?.() === 0;
const canDropPrivileges = isRoot && Bun.which("setpriv") !== null;

const DB_VALUE = `db-secret-${crypto.randomUUID()}`;
const OUTER = {
  HUSH_ADMIN_CREDENTIAL: "HUSH-ADMIN-1OUTERADMINCREDENTIAL",
  HUSH_SERVER_KEY: "HUSH-SERVER-KEY-1OUTERSERVERKEY",
  HUSH_RELEASE_KEY: "outer-release-key",
  HUSH_JOIN_TOKEN: "HUSH-JOIN-1OUTERJOINTOKEN",
};

/** `sh -c` that reports whether its parent's environ and mem can be read, with a readable control. */
const PROBE =
  "cat /proc/$PPID/environ >/dev/null 2>&1 && echo environ-readable || echo environ-refused; " +
  "dd if=/proc/$PPID/mem of=/dev/null bs=1 count=0 status=none 2>/dev/null && echo mem-readable || echo mem-refused; " +
  'sleep 5 & cat /proc/$!/environ >/dev/null 2>&1 && echo control-readable || echo control-refused; kill $!';

/** The names of the HUSH_* and DB variables a command sees (`env` output); HUSH_TEST_* are the tests' own (other files leave some in this process). */
// HUSH_TEST_* and HUSH_REQUIRE_REDIS (set by .ci/run for the Redis tests) are the test runner's, not hush's.
const hushVars = (envOutput: string) => envOutput.split("\n").filter((l) => /^(HUSH_(?!TEST_|REQUIRE_REDIS=)|DB_PASSWORD=)/.test(l)).map((l) => l.split("=")[0]).sort();

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as any).port;
      s.close(() => res(p));
    });
  });
}

let d: Daemon;
let url: string;
let home: string;
beforeAll(async () => {
  url = `http://127.0.0.1:${await freePort()}`;
  process.env.HUSH_TEST_DB = DB_VALUE;
  d = await startDaemon(["--listen", url, "--insecure-loopback", "--cred", "db/password=env:HUSH_TEST_DB", "--cred-allow", "db/password=*"]);
  delete process.env.HUSH_TEST_DB;
  const base = tempDir("hush-child-");
  chmodSync(base, 0o755);
  home = join(base, "nobody");
  mkdirSync(home, { mode: 0o700 });
  if (isRoot) chownSync(home, NOBODY, NOBODY);
});
afterAll(() => d.cleanup());

async function token(): Promise<string> {
  const file = join(d.dir, `token-${crypto.randomUUID()}`);
  const r = await d.cli(["token", "create", "--out", file]);
  expect(r.code).toBe(0);
  return readFileSync(file, "utf8");
}

function asNobody(argv: string[], env: Record<string, string>) {
  const r = Bun.spawnSync([...AS_NOBODY, HUSH, ...argv], { env: { PATH: process.env.PATH!, HOME: home, NO_COLOR: "1", ...env }, cwd: home });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("a command's parent holds its secrets out of the command's reach (as nobody)", () => {
  // Needs root on Linux with setpriv: as root, every /proc file is readable, so the command must run as another uid.
  test.skipIf(!canDropPrivileges)("hush join -- CMD: the command cannot read hush join's environ or mem (the join token)", async () => {
    const r = asNobody(["join", "--url", url, "--name", "probe", "--", "sh", "-c", PROBE], { HUSH_JOIN_TOKEN: await token() });
    expect(r.stderr).toMatch(/joined as w_/);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "environ-refused\nmem-refused\ncontrol-readable\n" });
  });

  test.skipIf(!canDropPrivileges)("hush checkout NAME -- CMD: the command cannot read hush checkout's environ or mem (the worker credential)", async () => {
    const r = asNobody(["checkout", "db/password", "--url", url, "--", "sh", "-c", PROBE], { HUSH_CREDENTIAL: await d.issue("checkout-probe", ["--tags", "ci"]) });
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: "environ-refused\nmem-refused\ncontrol-readable\n", stderr: "" });
  });
});

describe("the parent's environment block no longer holds the secret", () => {
  /** What root reads in the parent's /proc/PID/environ: the lines naming `name`. */
  const SHOW = (name: string) => `tr '\\0' '\\n' < /proc/$PPID/environ | grep '^${name}='`;

  // Needs root: for another uid the file is unreadable anyway (not dumpable), so nothing would be checked.
  test.skipIf(!isRoot)("hush join: HUSH_JOIN_TOKEN= is empty in /proc/PID/environ", async () => {
    const t = await token();
    const r = await hush(["join", "--url", url, "--", "sh", "-c", SHOW("HUSH_JOIN_TOKEN")], { env: { HUSH_JOIN_TOKEN: t } });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "HUSH_JOIN_TOKEN=\n" });
  });

  test.skipIf(!isRoot)("hush checkout: HUSH_CREDENTIAL= is empty in /proc/PID/environ", async () => {
    const cred = await d.issue("scrub", ["--tags", "ci"]);
    const r = await hush(["checkout", "db/password", "--url", url, "--", "sh", "-c", SHOW("HUSH_CREDENTIAL")], { env: { HUSH_CREDENTIAL: cred } });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "HUSH_CREDENTIAL=\n" });
  });
});

describe("hush's own secrets do not reach the commands hush starts", () => {
  test("hush run -- CMD: the run's socket and credential, nothing else of hush's", async () => {
    const r = await hush(["run", "--", "sh", "-c", "env"], { env: { ...OUTER, HUSH_CREDENTIAL: "HUSH-WORKER-1OUTER", HUSH_URL: "https://example.invalid:1" } });
    expect(r.code).toBe(0);
    expect(hushVars(r.stdout)).toEqual(["HUSH_CREDENTIAL", "HUSH_SOCKET"]);
    expect(r.stdout).not.toContain("HUSH-WORKER-1OUTER");
  });

  test("hush run -- hush workers list: admin commands use the run's admin.sock, not the caller's admin credential", async () => {
    const r = await hush(["run", "--name", "inner", "--", HUSH, "workers", "list", "--json"], { env: OUTER });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).name)).toEqual(["inner"]);
  });

  test("hush join -- CMD: the new worker's credential and where to reach the daemon, nothing else of hush's", async () => {
    const r = await hush(["join", "--url", url, "--", "sh", "-c", "env"], { env: { ...OUTER, HUSH_JOIN_TOKEN: await token(), HUSH_CREDENTIAL: "HUSH-WORKER-1OUTER" } });
    expect(r.code).toBe(0);
    expect(hushVars(r.stdout)).toEqual(["HUSH_CREDENTIAL", "HUSH_URL"]);
    expect(r.stdout).not.toContain("HUSH-WORKER-1OUTER");
  });

  test("hush checkout NAME -- CMD: the value only, not the worker's credential", async () => {
    const cred = await d.issue("checkout-env", ["--tags", "ci"]);
    const r = await hush(["checkout", "db/password", "--url", url, "--", "sh", "-c", "env"], { env: { ...OUTER, HUSH_CREDENTIAL: cred } });
    expect(r.code).toBe(0);
    expect(hushVars(r.stdout)).toEqual(["DB_PASSWORD"]);
    expect(r.stdout).toContain(`DB_PASSWORD=${DB_VALUE}\n`);
  });

  test("an exec: source gets neither hush's secrets nor the variables of env: sources", async () => {
    const dir = tempDir("hush-exec-env-");
    const seen = join(dir, "seen");
    process.env.HUSH_TEST_ENV_SOURCE = "env-source-secret";
    process.env.HUSH_TEST_PLAIN = "plain";
    // Not HUSH_SERVER_KEY: hush serve would read it as its own key.
    const { HUSH_SERVER_KEY: _, ...rest } = OUTER;
    const outer = { ...rest, HUSH_CREDENTIAL: "HUSH-WORKER-1OUTER" };
    Object.assign(process.env, outer);
    let e: Daemon;
    try {
      e = await startDaemon(["--cred", "a=env:HUSH_TEST_ENV_SOURCE", "--cred", `b=exec:env > ${seen}; echo value-b`], { dir });
    } finally {
      for (const k of ["HUSH_TEST_ENV_SOURCE", "HUSH_TEST_PLAIN", ...Object.keys(outer)]) delete process.env[k];
    }
    const env = readFileSync(seen, "utf8");
    e!.cleanup();
    expect(env).toContain("HUSH_TEST_PLAIN=plain\n");
    expect(hushVars(env)).toEqual([]);
    expect(env).not.toContain("env-source-secret");
    expect(env).not.toContain("HUSH_TEST_ENV_SOURCE=");
  });
});
