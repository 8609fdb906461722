/**
 * The daemon's socket and lifecycle guarantees (DESIGN.md invariants 5, 7),
 * driven through the compiled binary.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const started: Daemon[] = [];
afterAll(() => started.forEach((d) => d.cleanup()));
async function daemon(args: string[] = [], opts = {}) {
  const d = await startDaemon(args, opts);
  started.push(d);
  return d;
}

const isRoot = process.getuid?.() === 0;
const canDropPrivileges = isRoot && Bun.which("setpriv") !== null;

describe("sockets", () => {
  test("directory is 0700, both sockets 0600, owned by us", async () => {
    const d = await daemon();
    const dir = statSync(join(d.socket, ".."));
    expect(dir.mode & 0o777).toBe(0o700);
    for (const p of [d.socket, d.admin]) {
      const s = statSync(p);
      expect(s.isSocket()).toBe(true);
      expect(s.mode & 0o777).toBe(0o600);
      expect(s.uid).toBe(process.getuid!());
    }
  });

  test.skipIf(!canDropPrivileges)("a process running as another uid (nobody) cannot connect; the owner can", async () => {
    // Needs root to switch uid with setpriv; skipped (with this reason) elsewhere.
    const d = await daemon();
    // The test directory must be traversable so that only hush's own 0700/0600 stop nobody.
    chmodSync(d.dir, 0o755);
    // --socket-owner root: nobody's client accepts root's socket, so that the OS alone must stop it.
    const asNobody = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HUSH, "health", "--socket", d.socket, "--socket-owner", "root"], {
      env: { PATH: process.env.PATH!, NO_COLOR: "1" },
    });
    expect(asNobody.exitCode).toBe(6);
    expect(asNobody.stderr.toString()).toContain("cannot reach the hush daemon");
    // Open the directory for traversal (to nobody's group, the most a client accepts): the 0600 sockets alone must still refuse nobody.
    const sockDir = join(d.socket, "..");
    chownSync(sockDir, 0, 65534);
    chmodSync(sockDir, 0o710);
    for (const path of [d.socket, d.admin]) {
      const r = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HUSH, "health", "--socket", path, "--socket-owner", "root"], {
        env: { PATH: process.env.PATH!, NO_COLOR: "1" },
      });
      expect(r.exitCode).toBe(6);
      expect(r.stderr.toString()).toMatch(/EACCES|ermission denied/);
    }
    chmodSync(sockDir, 0o700);
    chownSync(sockDir, 0, 0);
    const asOwner = await hush(["health", "--socket", d.socket]);
    expect(asOwner.code).toBe(0);
  });

  test("a pre-existing directory that is group/world accessible is refused", async () => {
    const dir = tempDir();
    const sockDir = join(dir, "loose");
    mkdirSync(sockDir, { mode: 0o755 });
    chmodSync(sockDir, 0o755);
    const r = await hush(["serve", "--socket", join(sockDir, "hush.sock")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`socket directory ${sockDir} is owned by you (uid ${process.getuid!()}) and has mode 0755, open to group or others`);
    expect(existsSync(join(sockDir, "hush.sock"))).toBe(false);
  });

  test.skipIf(!isRoot)("a directory owned by another user is refused", async () => {
    // Needs root to chown the directory to nobody; skipped (with this reason) elsewhere.
    const dir = tempDir();
    const sockDir = join(dir, "theirs");
    mkdirSync(sockDir, { mode: 0o700 });
    chownSync(sockDir, 65534, 65534);
    const r = await hush(["serve", "--socket", join(sockDir, "hush.sock")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`socket directory ${sockDir} is owned by uid 65534 (nobody), not by you (uid ${process.getuid!()}), and has mode 0700`);
  });

  test("a second daemon on a live path is refused and the first keeps serving", async () => {
    const d = await daemon();
    const r = await hush(["serve", "--socket", d.socket]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`another hush daemon (pid ${d.proc.pid}) is running`);
    expect((await d.cli(["health"])).code).toBe(0);
  });

  test("a stale socket left by kill -9 is reclaimed", async () => {
    const first = await daemon();
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    expect(existsSync(first.socket)).toBe(true);
    const second = await daemon([], { dir: first.dir, socket: first.socket });
    expect(second.log()).toContain("reclaimed a stale socket");
    expect((await second.cli(["health"])).code).toBe(0);
  });
});

describe("shutdown", () => {
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    test(`${sig}: exits 0, wipes, unlinks both sockets`, async () => {
      const d = await daemon();
      const cred = await d.issue("w");
      expect((await d.cli(["kv", "set", "k", "--ttl", "1m"], { stdin: "v", env: { HUSH_CREDENTIAL: cred } })).code).toBe(0);
      expect(await d.stop(sig)).toBe(0);
      expect(existsSync(d.socket)).toBe(false);
      expect(existsSync(d.admin)).toBe(false);
      await waitFor(() => d.log().includes("stopped; store wiped, sockets removed"), 2000, "stop message");
    });
  }

  test("in-flight requests finish during the drain", async () => {
    const d = await daemon();
    const cred = await d.issue("w");
    const env = { HUSH_CREDENTIAL: cred };
    // Start many requests, then SIGTERM while they run: each either completes
    // or was never accepted (connection refused) — none is cut half-way.
    const reqs = Array.from({ length: 40 }, (_, i) => d.cli(["kv", "set", `k${i}`, "--ttl", "1m"], { stdin: "x", env }));
    await Bun.sleep(30);
    d.proc.kill("SIGTERM");
    const results = await Promise.all(reqs);
    for (const r of results) expect([0, 6]).toContain(r.code);
    expect(await d.proc.exited).toBe(0);
  });
});

describe("opening hush.sock to a group", () => {
  test.skipIf(!canDropPrivileges)("--socket-mode 0660 --socket-group: a group member reaches hush.sock, never admin.sock", async () => {
    // Needs root (setpriv) to act as a member of the group; skipped with this reason elsewhere.
    const d = await daemon(["--socket-mode", "0660", "--socket-group", "nogroup"]);
    chmodSync(d.dir, 0o755);
    const dir = statSync(join(d.socket, ".."));
    expect(dir.mode & 0o777).toBe(0o710);
    expect(dir.gid).toBe(65534);
    expect(statSync(d.socket).mode & 0o777).toBe(0o660);
    expect(statSync(d.socket).gid).toBe(65534);
    expect(statSync(d.admin).mode & 0o777).toBe(0o600);
    // The member names the daemon's user with --socket-owner (test/e2e/socket-trust.test.ts covers it without).
    const asMember = (path: string) =>
      Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HUSH, "health", "--socket", path, "--socket-owner", "root"], { env: { PATH: process.env.PATH!, NO_COLOR: "1" } });
    expect(asMember(d.socket).exitCode).toBe(0); // reaches hush.sock (and still needs a credential for anything but health)
    const admin = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HUSH, "workers", "list", "--socket", d.socket, "--socket-owner", "root"], {
      env: { PATH: process.env.PATH!, NO_COLOR: "1" },
    });
    expect(admin.exitCode).toBe(6);
    expect(admin.stderr.toString()).toMatch(/EACCES|ermission denied/);
  });
  test("--socket-mode 0660 without a group, or a world-accessible mode, is refused", async () => {
    const a = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--socket-mode", "0660"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("needs --socket-group");
    const b = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--socket-mode", "0666", "--socket-group", "nogroup"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("never world-accessible");
  });
});

describe("slow clients", () => {
  test("a client trickling its headers is cut by the idle timeout; the daemon keeps serving", async () => {
    const d = await daemon();
    const { connect } = await import("node:net");
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = connect({ path: d.socket });
      s.on("error", () => {});
      s.write("GET /v1/health HTTP/1.1\r\nHost: x\r\n");
      const drip = setInterval(() => s.writable && s.write("X-Slow: 1\r\n"), 1000);
      s.on("close", () => {
        clearInterval(drip);
        resolve(Date.now() - t0);
      });
      setTimeout(() => s.destroy(), 25_000);
    });
    console.log(`slow-loris: a header trickle was cut after ${closedAfter} ms`);
    expect(closedAfter).toBeLessThan(25_000);
    expect((await d.cli(["health"])).code).toBe(0);
  }, 30_000);
});
