/**
 * Process hardening (src/os/harden.ts): the module in a child process
 * (it changes process state, so never in the test runner itself), then the
 * observable effects on a running `dist/hush serve`:
 * - not dumpable: /proc/PID/{environ,mem} become root-owned and another
 *   process of the SAME uid can no longer read them;
 * - core limit 0/0 in /proc/PID/limits; umask 077 in /proc/PID/status;
 * - memory locked (VmLck) when the daemon may lock it, else one warning;
 * - the daemon still serves.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HUSH, hush, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const HARDEN = resolve(import.meta.dir, "../../src/os/harden.ts");
const NOBODY = 65534;
const AS_NOBODY = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
const isLinux = process.platform === "linux";
const isRoot = process.getuid?.() === 0;
const canDropPrivileges = isLinux && isRoot && Bun.which("setpriv") !== null;
/** CAP_IPC_LOCK (bit 14) in our effective set: a root daemon may then mlockall. */
const canLock = isLinux && (BigInt("0x" + (/CapEff:\s+([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "0")) >> 14n) % 2n === 1n;

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((f) => f()));

function procStatus(pid: number, field: string): string {
  const m = new RegExp(`^${field}:\\s+(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return m[1].trim();
}
const coreLimitLine = (pid: number) => readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max core file size"));
const vmLckKiB = (pid: number) => Number(procStatus(pid, "VmLck").split(/\s+/)[0]);
const mlockWarnings = (log: string) => log.split("\n").filter((l) => l.includes("mlockall failed"));

/** Run hardenProcess(OPTS) in a fresh `bun` child (optionally as nobody); returns the parsed report. */
function runHarden(opts: { mlock?: boolean } | undefined, extra: { asNobody?: boolean; prelude?: string } = {}) {
  const dir = tempDir("hush-harden-unit-");
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, "probe.ts");
  writeFileSync(
    script,
    `${extra.prelude ?? ""}\nimport { hardenProcess } from ${JSON.stringify(HARDEN)};\n` +
      `const report = hardenProcess(${opts === undefined ? "" : JSON.stringify(opts)});\n` +
      `console.log(JSON.stringify({ report, umask: process.umask(), uid: process.getuid() }));\n`,
  );
  if (extra.asNobody) {
    chmodSync(dir, 0o755);
    chmodSync(script, 0o644);
  }
  const argv = [...(extra.asNobody ? AS_NOBODY : []), process.execPath, script];
  const r = Bun.spawnSync(argv, { env: { PATH: process.env.PATH!, HOME: dir, NO_COLOR: "1" }, cwd: dir });
  const stdout = r.stdout.toString();
  if (r.exitCode !== 0) throw new Error(`probe exited ${r.exitCode}: ${r.stderr}`);
  return JSON.parse(stdout.trim().split("\n").pop()!) as { report: any; umask: number; uid: number };
}

function expectWellFormed(report: any) {
  expect(Object.keys(report).sort()).toEqual(["coreLimit", "dumpable", "mlock", "umask", "warnings"]);
  for (const k of ["dumpable", "coreLimit", "umask"]) expect(typeof report[k]).toBe("boolean");
  expect(["ok", "unavailable", "failed"]).toContain(report.mlock);
  expect(Array.isArray(report.warnings)).toBe(true);
  for (const w of report.warnings) expect(typeof w).toBe("string");
}

describe("hardenProcess (in a child process)", () => {
  test.skipIf(!isLinux)("applies everything and returns a well-formed report", () => {
    const { report, umask } = runHarden(undefined);
    expectWellFormed(report);
    expect(report).toMatchObject({ dumpable: true, coreLimit: true, umask: true });
    expect(umask).toBe(0o077);
    if (report.mlock === "ok") expect(report.warnings).toEqual([]);
    else {
      expect(report.mlock).toBe("failed");
      expect(report.warnings).toHaveLength(1);
      expect(report.warnings[0]).toContain("mlockall failed");
    }
    if (isRoot && canLock) expect(report.mlock).toBe("ok");
  });

  test.skipIf(!isLinux)("{ mlock: false } skips mlockall without a warning", () => {
    const { report } = runHarden({ mlock: false });
    expectWellFormed(report);
    expect(report).toEqual({ dumpable: true, coreLimit: true, mlock: "unavailable", umask: true, warnings: [] });
  });

  test.skipIf(!canDropPrivileges)("as non-root with the default memlock limit: mlockall fails with one warning, the rest still applies", () => {
    // Needs root to switch to nobody with setpriv; skipped (with this reason) elsewhere.
    const { report, uid } = runHarden(undefined, { asNobody: true });
    expect(uid).toBe(NOBODY);
    expectWellFormed(report);
    expect(report).toMatchObject({ dumpable: true, coreLimit: true, umask: true });
    if (report.mlock === "failed") {
      expect(report.warnings).toHaveLength(1);
      expect(report.warnings[0]).toMatch(/^mlockall failed \((ENOMEM|EPERM)\)/);
    } else expect(report).toMatchObject({ mlock: "ok", warnings: [] }); // memlock limit raised on this host
  });

  test("on another platform: changes nothing, warns, never throws", () => {
    const { report, umask } = runHarden(undefined, { prelude: `Object.defineProperty(process, "platform", { value: "darwin" });` });
    expectWellFormed(report);
    expect(report).toMatchObject({ dumpable: false, coreLimit: false, mlock: "unavailable", umask: false });
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toContain("Linux only");
    expect(umask).not.toBe(0o077);
  });
});

describe.skipIf(!isLinux)("dist/hush serve is hardened (as root)", () => {
  async function daemon(args: string[] = []): Promise<Daemon> {
    const d = await startDaemon(args);
    cleanups.push(() => d.cleanup());
    return d;
  }

  test("core limit 0/0, umask 077, memory locked when allowed, still serves", async () => {
    const d = await daemon();
    const pid = d.proc.pid;
    expect(coreLimitLine(pid)).toMatch(/^Max core file size\s+0\s+0\s+bytes/);
    expect(procStatus(pid, "Umask")).toBe("0077");
    if (canLock) {
      expect(vmLckKiB(pid)).toBeGreaterThan(0);
      expect(mlockWarnings(d.log())).toEqual([]);
    } else expect(mlockWarnings(d.log())).toHaveLength(1);
    expect((await d.cli(["health"])).code).toBe(0);
  });

  test("--no-mlock: nothing locked, no warning, the rest still applies", async () => {
    const d = await daemon(["--no-mlock"]);
    expect(vmLckKiB(d.proc.pid)).toBe(0);
    expect(mlockWarnings(d.log())).toEqual([]);
    expect(coreLimitLine(d.proc.pid)).toMatch(/^Max core file size\s+0\s+0\s+bytes/);
    expect((await d.cli(["health"])).code).toBe(0);
  });
});

describe("dist/hush serve as nobody: a same-uid process cannot read its memory or environment", () => {
  const asNobody = (argv: string[]) => Bun.spawnSync([...AS_NOBODY, ...argv], { env: { PATH: process.env.PATH!, NO_COLOR: "1" } });

  test.skipIf(!canDropPrivileges)("environ and mem are root-owned and refused to nobody; limits; still serves", async () => {
    // Needs root to start the daemon and a reader as nobody with setpriv; skipped (with this reason) elsewhere.
    const base = tempDir("hush-harden-");
    chmodSync(base, 0o755);
    const home = join(base, "nobody");
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    const socket = join(home, "run", "hush.sock");
    const marker = `HUSH_TEST_MARKER=${crypto.randomUUID()}`;
    const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: home, NO_COLOR: "1", HUSH_TEST_MARKER: marker.slice(marker.indexOf("=") + 1) };

    // Control: an unhardened process of nobody with the same marker IS readable by another nobody process.
    const control = Bun.spawn([...AS_NOBODY, "sleep", "60"], { env, stdin: "ignore" });
    let log = "";
    // setpriv execs hush in place: proc.pid is the daemon's pid.
    const proc = Bun.spawn([...AS_NOBODY, HUSH, "serve", "--socket", socket], { env, cwd: home, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    cleanups.push(() => {
      for (const p of [proc, control]) {
        try {
          p.kill("SIGKILL");
        } catch {}
      }
      rmSync(base, { recursive: true, force: true });
    });
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr as any) log += dec.decode(chunk, { stream: true });
    })();
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`hush serve (as nobody) exited ${proc.exitCode}: ${log}`);
      return log.includes("hush: ready");
    }, 10_000, "hush serve (as nobody) to be ready");
    const pid = proc.pid;
    expect(procStatus(pid, "Uid").split(/\s+/)).toEqual(Array(4).fill(String(NOBODY)));

    const controlEnv = asNobody(["cat", `/proc/${control.pid}/environ`]);
    expect(controlEnv.exitCode).toBe(0);
    expect(controlEnv.stdout.toString().split("\0")).toContain(marker);

    // The marker is in the daemon's environment (root may read it)…
    expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain(marker);
    // …but PR_SET_DUMPABLE 0 made the per-process files root-owned…
    for (const f of ["environ", "mem"]) {
      const st = statSync(`/proc/${pid}/${f}`);
      expect([st.uid, st.gid]).toEqual([0, 0]);
    }
    // …and another process of the SAME uid is refused.
    const env2 = asNobody(["cat", `/proc/${pid}/environ`]);
    expect(env2.exitCode).not.toBe(0);
    expect(env2.stderr.toString()).toContain("Permission denied");
    expect(env2.stdout.toString()).not.toContain(marker.slice(marker.indexOf("=") + 1));
    const mem = asNobody(["dd", `if=/proc/${pid}/mem`, "of=/dev/null", "bs=1", "count=0", "status=none"]);
    expect(mem.exitCode).not.toBe(0);
    expect(mem.stderr.toString()).toContain("Permission denied");
    const controlMem = asNobody(["dd", `if=/proc/${control.pid}/mem`, "of=/dev/null", "bs=1", "count=0", "status=none"]);
    expect(controlMem.exitCode).toBe(0);

    expect(coreLimitLine(pid)).toMatch(/^Max core file size\s+0\s+0\s+bytes/);
    expect(procStatus(pid, "Umask")).toBe("0077");
    // As nobody, mlockall needs a memlock limit above Bun's ~6.4 GB of reservations: usually one warning.
    if (vmLckKiB(pid) === 0) expect(mlockWarnings(log)).toHaveLength(1);
    else expect(mlockWarnings(log)).toEqual([]);

    const health = asNobody([HUSH, "health", "--socket", socket]);
    expect(health.exitCode).toBe(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  });
});

describe.skipIf(!isLinux)("dist/hush run: its private daemon is hardened like hush serve; the command is not", () => {
  /** Report the daemon's state (/proc/$PPID, hush run is the command's parent) and the command's own umask and core limits. */
  const PROBE =
    'P=$PPID; grep -E "^(Umask|VmLck):" /proc/$P/status; grep "^Max core file size" /proc/$P/limits; ' +
    'echo "child-umask=$(umask) child-core=$(ulimit -S -c)/$(ulimit -H -c)"';
  /** `sh -c` with the caller's umask 027 and soft core limit 2048, then ARGV. */
  const asCaller = (argv: string[]) => ["sh", "-c", 'umask 027; ulimit -S -c 2048; exec "$@"', "sh", ...argv];

  test("core limit 0, umask 077, memory locked when allowed; the command gets the caller's umask and core limit", async () => {
    const r = Bun.spawnSync(asCaller([HUSH, "run", "--", "sh", "-c", PROBE]), { env: { ...process.env, NO_COLOR: "1" } });
    const out = r.stdout.toString();
    expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" });
    expect(out).toMatch(/^Umask:\s+0077$/m);
    expect(out).toMatch(/^Max core file size\s+0\s+\S+\s+bytes/m);
    if (canLock) expect(Number(/^VmLck:\s+(\d+)/m.exec(out)![1])).toBeGreaterThan(0);
    const control = Bun.spawnSync(asCaller(["sh", "-c", 'echo "child-umask=$(umask) child-core=$(ulimit -S -c)/$(ulimit -H -c)"']));
    expect(control.stdout.toString()).toContain("child-umask=0027 child-core=2048/");
    expect(out).toContain(control.stdout.toString().trim());
  });

  test.skipIf(!canDropPrivileges)("as nobody: the command (same uid) cannot read the daemon's environ; a control process can be read", () => {
    // Needs root to run hush run as nobody with setpriv; skipped (with this reason) elsewhere.
    const base = tempDir("hush-harden-run-");
    chmodSync(base, 0o755);
    const home = join(base, "nobody");
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: home, NO_COLOR: "1", HUSH_TEST_MARKER: crypto.randomUUID() };
    const probe = 'cat /proc/$PPID/environ >/dev/null 2>&1 && echo daemon-readable || echo daemon-refused; ' + 'sh -c "sleep 0.2" & cat /proc/$!/environ >/dev/null 2>&1 && echo control-readable; wait';
    const r = Bun.spawnSync([...AS_NOBODY, HUSH, "run", "--", "sh", "-c", probe], { env, cwd: home });
    expect({ code: r.exitCode, stderr: r.stderr.toString() }).toEqual({ code: 0, stderr: "" }); // a failed mlockall is not a warning here
    expect(r.stdout.toString()).toBe("daemon-refused\ncontrol-readable\n");
  });
});
