/**
 * `--cred NAME=exec:COMMAND` runs `sh -c COMMAND` in a process group of its
 * own, and nothing of that group outlives the start-up: not on a stop signal
 * during start-up (also a member that ignores SIGTERM), not what the command
 * left running in the background after it printed the value. Processes are
 * found by a unique `sleep` duration in their command line (Linux /proc).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HUSH, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";
import { killMarked, runningSleeps as running, sleepMarker as marker } from "../_procs.ts";

const linux = process.platform === "linux";
if (!linux) console.warn("SKIP exec-group: finding processes by command line needs Linux /proc");

const started: Daemon[] = [];
const spawned: ReturnType<typeof Bun.spawn>[] = [];
afterAll(() => {
  started.forEach((d) => d.cleanup());
  spawned.forEach((p) => p.kill("SIGKILL"));
  killMarked(); // on a failure, what this test looks for must not outlive it either
});

describe.skipIf(!linux)("exec: credential commands end with their process group", () => {
  test("a stop signal during start-up ends the whole group, a member that ignores SIGTERM too; exit 0", async () => {
    const [a, b] = [marker(), marker()];
    const d = tempDir();
    const mark = join(d, "started");
    // A background sleep, one that ignores SIGTERM (SIG_IGN survives exec), and sh waiting for both.
    const cmd = `sleep ${a} & (trap '' TERM; exec sleep ${b}) & touch ${mark}; wait`;
    const p = Bun.spawn([HUSH, "serve", "--socket", join(d, "run", "hush.sock"), "--cred", `slow=exec:${cmd}`], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    spawned.push(p);
    const log = new Response(p.stderr).text();
    await waitFor(() => (existsSync(mark) && running(a).length > 0 && running(b).length > 0) || p.exitCode !== null, 10_000, "the exec: command's processes");
    expect(running(a).length + running(b).length).toBe(2);
    p.kill("SIGTERM");
    expect({ code: await p.exited, log: await log }).toMatchObject({ code: 0 });
    expect(await log).toContain("stopped during start-up; nothing was served");
    // hush serve waited for the group to end before it exited.
    expect({ a: running(a), b: running(b) }).toEqual({ a: [], b: [] });
  }, 30_000);

  test("what the command leaves running after it printed the value is ended; the start does not wait for it", async () => {
    const [a, b] = [marker(), marker()];
    // One leftover holds the output pipe open, the other ignores SIGTERM and writes nowhere.
    const cmd = `printf s3cret; sleep ${a} & (trap '' TERM; exec sleep ${b} >/dev/null) & exit 0`;
    const t0 = Date.now();
    const d = await startDaemon(["--cred", `left=exec:${cmd}`, "--cred-allow", "left=ci"]);
    started.push(d);
    expect(Date.now() - t0).toBeLessThan(20_000); // not the 30 s timeout
    expect({ a: running(a), b: running(b) }).toEqual({ a: [], b: [] });
    const cred = await d.issue("ci-worker", ["--tags", "ci"]);
    const r = await d.cli(["checkout", "left"], { env: { HUSH_CREDENTIAL: cred } });
    expect(r.stdout).toBe("s3cret\n");
  }, 30_000);
});
