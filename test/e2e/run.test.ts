/**
 * `hush run -- CMD`: a private daemon for one command, used from Node
 * through the SDK bundle (dist/sdk/index.mjs), as jest/vitest/Playwright would.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { HUSH, hush, slowRequest, tempDir, waitFor } from "./_harness.ts";

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((f) => f()));

const SDK = resolve(import.meta.dir, "../../dist/sdk/index.mjs");
const hasNode = Bun.which("node") !== null;

describe.skipIf(!hasNode)("hush run with a Node script using the SDK", () => {
  test("set, get, incr, lock, pool from parallel Node workers; the exit code comes back; everything is wiped", async () => {
    const dir = tempDir();
    const worker = join(dir, "worker.mjs");
    writeFileSync(
      worker,
      `import { Client, HushError } from ${JSON.stringify(SDK)};
const hush = Client.fromEnv();
const id = process.argv[2];
await hush.incr("workers", 1, { ttlMs: 60000 });
const lease = await hush.lease("accounts", { size: 4, ttlMs: 60000, holder: "worker-" + id });
// hold a lock around a read-modify-write: the counter must end exact
for (let i = 0; i < 5; i++) {
  let lock;
  for (;;) {
    try { lock = await hush.lock("critical", { ttlMs: 5000 }); break; }
    catch (e) { if (e instanceof HushError && e.code === "conflict") { await new Promise(r => setTimeout(r, 2)); continue; } throw e; }
  }
  let v = 0;
  try { v = await hush.get("shared"); } catch (e) { if (e.code !== "not_found") throw e; }
  await hush.set("shared", v + 1, { ttlMs: 60000 });
  await lock.release();
}
console.log(JSON.stringify({ id, slot: lease.slot }));
hush.close();
`,
    );
    const main = join(dir, "main.mjs");
    writeFileSync(
      main,
      `import { Client, HushError } from ${JSON.stringify(SDK)};
import { execFileSync, spawn } from "node:child_process";
const hush = Client.fromEnv();
const who = await hush.whoami();
if (!who.id.startsWith("w_")) throw new Error("whoami");
await hush.set("greeting", { hello: "world" }, { ttlMs: 60000 });
const got = await hush.get("greeting");
if (got.hello !== "world") throw new Error("get");
try { await hush.get("missing"); throw new Error("expected not_found"); } catch (e) { if (!(e instanceof HushError) || e.code !== "not_found") throw e; }
const runs = await Promise.all([0, 1, 2, 3].map((i) => new Promise((res, rej) => {
  const p = spawn(process.execPath, [${JSON.stringify(worker)}, String(i)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = ""; p.stdout.on("data", (d) => (out += d));
  p.on("exit", (c) => (c === 0 ? res(JSON.parse(out)) : rej(new Error("worker exit " + c))));
})));
const slots = runs.map((r) => r.slot).sort();
console.log("slots=" + slots.join(","));
console.log("workers=" + (await hush.get("workers")));
console.log("shared=" + (await hush.get("shared")));
console.log("socket=" + process.env.HUSH_SOCKET);
process.exit(7);
`,
    );
    const r = await hush(["run", "--", "node", main]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(7);
    expect(r.stdout).toContain("slots=0,1,2,3");
    expect(r.stdout).toContain("workers=4");
    expect(r.stdout).toContain("shared=20");
    const socket = /socket=(.*)/.exec(r.stdout)![1];
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(join(socket, ".."))).toBe(false);
  });
});

describe("hush run", () => {
  test("exit code and signal death pass through", async () => {
    expect((await hush(["run", "--", "sh", "-c", "exit 3"])).code).toBe(3);
    expect((await hush(["run", "--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
    expect((await hush(["run", "--", "sh", "-c", "kill -KILL $$"])).code).toBe(137);
  });
  test("the child sees HUSH_SOCKET in a private 0700 directory and a credential", async () => {
    const r = await hush(["run", "--", "sh", "-c", 'stat -c %a "$(dirname "$HUSH_SOCKET")"; stat -c %a "$HUSH_SOCKET"; echo "$HUSH_CREDENTIAL" | cut -c1-13']);
    expect(r.stdout).toBe("700\n600\nHUSH-WORKER-1\n");
  });
  test("nothing to run is a usage error; a missing program is a clear error", async () => {
    const a = await hush(["run"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("nothing to run");
    const b = await hush(["run", "--", "/nonexistent/prog"]);
    expect(b.code).toBe(127);
    expect(b.stderr).toContain("hush: error: command not found: /nonexistent/prog");
  });
  test("TTLs are required by default; --no-ttl-required allows keys without one", async () => {
    const script = 'echo v | "$0" kv set k; echo "code=$?"';
    const strict = await hush(["run", "--", "sh", "-c", script, (await import("./_harness.ts")).HUSH]);
    expect(strict.stdout).toContain("code=2");
    expect(strict.stderr).toContain("ttl");
    const loose = await hush(["run", "--no-ttl-required", "--", "sh", "-c", script, (await import("./_harness.ts")).HUSH]);
    expect(loose.stdout).toContain("code=0");
  });
  test("a `--help` after -- belongs to the child", async () => {
    const r = await hush(["run", "--", "sh", "-c", 'echo "$1"', "x", "--help"]);
    expect(r.stdout).toBe("--help\n");
  });
});

/**
 * Stop signals never kill hush run itself (DESIGN.md invariant 7): before the
 * command starts one ends the run, while it runs each is forwarded to it,
 * after it exited one cuts the drain short; every path wipes the daemon and
 * removes its directory.
 */
describe("hush run: stop signals", () => {
  /** hush run in a private TMPDIR, so that a directory it leaves behind can be seen. */
  function run(cmd: string[]) {
    const tmp = tempDir("hush-run-tmp-");
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TMPDIR: tmp, NO_COLOR: "1" };
    delete env.XDG_RUNTIME_DIR;
    const p = Bun.spawn([HUSH, "run", "--", ...cmd], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let soFar = "";
    const out = (async () => {
      const dec = new TextDecoder();
      for await (const c of p.stdout as any) soFar += dec.decode(c, { stream: true });
      return soFar;
    })();
    const err = new Response(p.stderr).text();
    cleanups.push(() => p.kill("SIGKILL"));
    /** What the command printed so far. */
    return { p, tmp, out, err, soFar: () => soFar, left: () => readdirSync(tmp) };
  }

  /** The socket takes connections (false once the daemon stopped listening: its drain began). */
  function accepting(socket: string): Promise<boolean> {
    return new Promise((res) => {
      const c = connect({ path: socket });
      c.once("connect", () => (c.destroy(), res(true)));
      c.once("error", () => res(false));
    });
  }

  test("each signal is forwarded to the command; its exit code comes back; everything is wiped", async () => {
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      const r = run(["sh", "-c", `trap 'echo got-signal; exit 7' TERM INT HUP; echo ready; while :; do sleep 0.05; done`]);
      // "ready" comes after the trap is set: a signal before it would kill sh (exit 128+n).
      await waitFor(() => r.soFar().includes("ready") || r.p.exitCode !== null, 20_000, "the command to set its trap");
      r.p.kill(sig);
      r.p.kill(sig); // a repeated signal is forwarded too, and does not kill hush run
      expect(await r.p.exited).toBe(7);
      expect(await r.out).toContain("got-signal");
      expect(r.left()).toEqual([]);
    }
  }, 60_000);

  test.skipIf(Bun.which("timeout") === null)("timeout(1) on hush run: the command ends, hush run wipes and passes 143 through", async () => {
    const tmp = tempDir("hush-run-tmp-");
    const env: Record<string, string> = { ...(process.env as Record<string, string>), TMPDIR: tmp };
    delete env.XDG_RUNTIME_DIR;
    for (let i = 0; i < 3; i++) {
      const p = Bun.spawnSync(["timeout", "--preserve-status", "-s", "TERM", "1", HUSH, "run", "--", "sleep", "30"], { env });
      expect(p.exitCode).toBe(143);
      expect(readdirSync(tmp)).toEqual([]);
    }
  }, 30_000);

  test("a signal at any moment of start-up: exit 143, the command's run ends, no directory is left behind", async () => {
    // First while the daemon starts (its directory has just appeared), then at a sweep of moments.
    for (const delay of ["dir", 0, 30, 60, 90, 120, 150, 180, 210, 240, 300, 400] as const) {
      const r = run(["sh", "-c", "sleep 30"]);
      if (delay === "dir") await waitFor(() => r.left().length > 0 || r.p.exitCode !== null, 10_000, "hush run's directory");
      else await Bun.sleep(delay);
      r.p.kill("SIGTERM");
      expect({ delay, code: await r.p.exited }).toEqual({ delay, code: 143 });
      expect({ delay, left: r.left() }).toEqual({ delay, left: [] });
    }
  }, 40_000);

  test("a signal after the command exited cuts the drain short; the exit code is still the command's", async () => {
    const go = join(tempDir(), "go");
    // The command exits only once the daemon counts the slow request in flight (its own status call is the other one).
    const inFlight = `until "$0" status --json | grep -q '"in_flight":{"used":2,'; do sleep 0.05; done`;
    const r = run(["sh", "-c", `echo "$HUSH_SOCKET"; while [ ! -e ${go} ]; do sleep 0.05; done; ${inFlight}; exit 5`, HUSH]);
    await waitFor(() => r.soFar().includes("\n") || r.p.exitCode !== null, 20_000, "the command to start");
    const socket = r.soFar().trim();
    const slow = await slowRequest(socket);
    Bun.spawnSync(["touch", go]);
    // Not a fixed sleep: the command has exited and the daemon drains the slow request once it stops listening.
    await waitFor(async () => !(await accepting(socket)) || r.p.exitCode !== null, 20_000, "the drain to begin");
    r.p.kill("SIGTERM");
    expect(await r.p.exited).toBe(5);
    expect(await r.err).toContain("stop signal during the drain: closing remaining connections now");
    expect(r.left()).toEqual([]);
    slow.destroy();
  }, 30_000);
});
