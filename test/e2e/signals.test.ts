/**
 * Stop signals (DESIGN.md invariant 7), through the compiled binary. No
 * SIGINT, SIGTERM or SIGHUP ever takes the default action (exit 128+n, no
 * wipe, sockets and an open audit run left behind): not a second one during
 * the drain (`kill -TERM $P $P`, `timeout`, which signals the process and
 * then its group), not one during start-up (an `exec:` source running, a
 * creds file that blocks). `hush serve` always ends with exit 0, both
 * sockets unlinked, the store wiped and the audit run closed (`stop` line
 * and closing seal, checked by `hush audit verify --closed`). `hush run`'s
 * signals are tested in run.test.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, openSync, readFileSync, writeSync, constants as fsc } from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { HUSH, freePort, hush, slowRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const dir = tempDir("hush-signals-");
const started: Daemon[] = [];
const cleanups: (() => void)[] = [];
afterAll(() => {
  started.forEach((d) => d.cleanup());
  cleanups.forEach((f) => f());
});

/** A verification key and a sealing state of its own for each audit file (epochs count from 0 in a new file). */
async function auditKeys(): Promise<{ key: string; state: string }> {
  const id = crypto.randomUUID();
  const [key, state] = [join(dir, `audit-${id}.verify`), join(dir, `audit-${id}.state`)];
  expect((await hush(["keygen", "audit", "--out", key, "--state-out", state])).code).toBe(0);
  return { key, state };
}

/** Exit 0, both sockets gone, the wipe logged, and (if any) the audit run closed and verified. */
async function expectCleanStop(d: Daemon, code: number, audit?: { file: string; key: string }) {
  expect({ code, log: code === 0 ? "" : d.log() }).toEqual({ code: 0, log: "" });
  expect(existsSync(d.socket)).toBe(false);
  expect(existsSync(d.admin)).toBe(false);
  await waitFor(() => d.log().includes("stopped; store wiped, sockets removed"), 2000, "the stop message");
  if (audit) {
    const v = await hush(["audit", "verify", "--file", audit.file, "--key-file", audit.key, "--closed"]);
    expect({ code: v.code, out: v.stdout + v.stderr }).toMatchObject({ code: 0 });
  }
}

/** Start `hush serve` with an audit file we name (the harness does not return it). */
async function serveWithAudit(extra: string[] = []) {
  const file = join(dir, `audit-${crypto.randomUUID()}.log`);
  const { key, state } = await auditKeys();
  const d = await startDaemon(["--audit-file", file, "--audit-state-file", state, ...extra]);
  started.push(d);
  return { d, audit: { file, key } };
}

describe("hush serve: stop signals", () => {
  test("a second SIGTERM during the drain cuts it short; still exit 0, wiped, unlinked, audit run closed", async () => {
    const { d, audit } = await serveWithAudit();
    const slow = await slowRequest(d.socket);
    d.proc.kill("SIGTERM");
    await waitFor(() => d.log().includes("shutting down"), 5000, "the drain to begin");
    d.proc.kill("SIGTERM");
    await expectCleanStop(d, await d.proc.exited, audit);
    expect(d.log()).toContain("stop signal during the drain: closing remaining connections now");
    slow.destroy();
  });

  test("signals in quick succession (kill -TERM $P $P; TERM, INT, HUP), in many runs, some with TLS: always a clean stop", async () => {
    const sends = [["-TERM", "P", "P"], ["-TERM", "P", "P", "P"], ["-INT", "P", "P"], ["-HUP", "P", "P"]];
    for (let i = 0; i < 10; i++) {
      const { d, audit } = await serveWithAudit(i % 2 ? ["--listen", `https://127.0.0.1:${freePort()}`] : []);
      const pid = String(d.proc.pid);
      if (i < 8) Bun.spawnSync(["kill", ...sends[i % sends.length].map((a) => (a === "P" ? pid : a))]);
      else Bun.spawnSync(["sh", "-c", `kill -TERM ${pid}; kill -INT ${pid}; kill -HUP ${pid}`]);
      await expectCleanStop(d, await d.proc.exited, audit);
    }
  }, 60_000);

  test.skipIf(Bun.which("timeout") === null)("timeout(1) signals the daemon, then its process group: a clean stop", async () => {
    for (let i = 0; i < 4; i++) {
      const audit = join(dir, `audit-timeout-${i}.log`);
      const { key, state } = await auditKeys();
      const socket = join(tempDir(), "run", "hush.sock");
      // --preserve-status: timeout exits with hush's own status. Its time runs out when we say so:
      // SIGALRM is the alarm timeout(1) sets itself (its expiry path: TERM to the daemon, then to
      // its process group), sent once the daemon is ready, not after a fixed second that a loaded
      // machine may spend starting it (a signal before its handlers exist is not what this tests).
      const p = Bun.spawn(["timeout", "--preserve-status", "-s", "TERM", "120", HUSH, "serve", "--socket", socket, "--audit-file", audit, "--audit-state-file", state], {
        stdin: "ignore",
        stdout: "ignore",
        stderr: "pipe",
      });
      cleanups.push(() => p.kill("SIGKILL"));
      let soFar = "";
      const log = (async () => {
        const dec = new TextDecoder();
        for await (const c of p.stderr as any) soFar += dec.decode(c, { stream: true });
        return soFar;
      })();
      await waitFor(() => soFar.includes("hush: ready") || p.exitCode !== null, 20_000, "hush serve to be ready");
      p.kill("SIGALRM");
      const code = await p.exited;
      expect({ code, log: code === 0 ? "" : await log }).toEqual({ code: 0, log: "" });
      expect(existsSync(socket)).toBe(false);
      expect(await log).toContain("stopped");
      const v = await hush(["audit", "verify", "--file", audit, "--key-file", key, "--closed"]);
      expect(v.code).toBe(0);
    }
  }, 60_000);

  test("a signal while an exec: credential source runs: the command is stopped, nothing is served, exit 0", async () => {
    const d2 = tempDir();
    const mark = join(d2, "started");
    const socket = join(d2, "run", "hush.sock");
    const p = Bun.spawn([HUSH, "serve", "--socket", socket, "--cred", `x=exec:touch ${mark}; sleep 30; echo v`, "--audit-file", join(d2, "audit.log")], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    cleanups.push(() => p.kill("SIGKILL"));
    const log = new Response(p.stderr).text();
    await waitFor(() => existsSync(mark) || p.exitCode !== null, 10_000, "the exec: command to start");
    const t0 = Date.now();
    p.kill("SIGTERM");
    const code = await p.exited;
    expect({ code, log: await log }).toMatchObject({ code: 0 });
    expect(Date.now() - t0).toBeLessThan(20_000); // the 30 s command was ended, not waited for
    expect(await log).toContain("stopped during start-up; nothing was served");
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(join(d2, "audit.log"))).toBe(false); // opened only after every credential source
    // The lock was released: a daemon starts on the same path.
    const again = await startDaemon([], { dir: d2, socket });
    started.push(again);
    expect((await again.cli(["health"])).code).toBe(0);
  }, 40_000);

  test("a signal while the creds file (a FIFO) blocks start-up: a clean stop once it is read", async () => {
    const d2 = tempDir();
    const fifo = join(d2, "creds.env");
    expect(Bun.spawnSync(["mkfifo", "-m", "600", fifo]).exitCode).toBe(0);
    const socket = join(d2, "run", "hush.sock");
    const audit = join(d2, "audit.log");
    const { key, state } = await auditKeys();
    const p = Bun.spawn([HUSH, "serve", "--socket", socket, "--creds-file", fifo, "--audit-file", audit, "--audit-state-file", state], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    cleanups.push(() => p.kill("SIGKILL"));
    const log = new Response(p.stderr).text();
    // Not a fixed sleep: under load the daemon may not have reached the FIFO (or installed its
    // handlers) after any given time. Wait until the kernel says both.
    await waitFor(() => p.exitCode !== null || (catches(p.pid, "SIGTERM") && blockedOnFifo(p.pid)), 20_000, "hush serve to block opening the FIFO");
    p.kill("SIGTERM");
    await waitFor(() => p.exitCode !== null || !pending(p.pid, "SIGTERM"), 10_000, "the SIGTERM to be delivered");
    // Feed the FIFO while the daemon waits on it (ENXIO: no reader, i.e. the daemon is gone, or not there yet).
    await waitFor(() => {
      if (p.exitCode !== null) return true;
      let fd: number;
      try {
        fd = openSync(fifo, fsc.O_WRONLY | fsc.O_NONBLOCK);
      } catch {
        return false;
      }
      writeSync(fd, "DB_PASSWORD=s3cret\n");
      closeSync(fd);
      return true;
    }, 10_000, "the daemon to read the FIFO");
    const code = await p.exited;
    expect({ code, log: await log }).toMatchObject({ code: 0 });
    expect(existsSync(socket)).toBe(false);
    if (existsSync(audit)) expect((await hush(["audit", "verify", "--file", audit, "--key-file", key, "--closed"])).code).toBe(0);
  }, 45_000);
});

/** A signal's bit in the masks of /proc/PID/status. */
const bit = (sig: NodeJS.Signals) => 1n << BigInt(osConstants.signals[sig] - 1);
function statusMask(pid: number, field: string): bigint {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s*([0-9a-f]+)$`, "m"));
  return m ? BigInt("0x" + m[1]) : 0n;
}
/** The process has a handler for `sig` (SigCgt). */
const catches = (pid: number, sig: NodeJS.Signals) => (statusMask(pid, "SigCgt") & bit(sig)) !== 0n;
/** `sig` was sent and not yet delivered (to the process or its main thread). */
const pending = (pid: number, sig: NodeJS.Signals) => ((statusMask(pid, "ShdPnd") | statusMask(pid, "SigPnd")) & bit(sig)) !== 0n;
/** The main thread sleeps in the kernel's FIFO open (waiting for a writer): by wchan, or by syscall (openat) where wchan shows 0. */
function blockedOnFifo(pid: number): boolean {
  let wchan: string;
  try {
    wchan = readFileSync(`/proc/${pid}/wchan`, "utf8");
  } catch {
    // Not root: the daemon is non-dumpable, so wchan and syscall are hidden; its main thread asleep is the best sign left.
    return readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").startsWith("S");
  }
  if (/^(wait_for_partner|fifo_open)$/.test(wchan.trim())) return true;
  const nr = readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ")[0];
  return wchan === "0" && (process.arch === "x64" ? nr === "257" : process.arch === "arm64" ? nr === "56" : false);
}
