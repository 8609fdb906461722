/**
 * Who owns a socket path (DESIGN.md invariant 5), through the compiled
 * binary: the daemon lock (`hush.lock`, flock) decides, never a failed
 * connect. A frozen daemon whose accept queue is full keeps its sockets; a
 * daemon still draining after SIGTERM keeps them too; a daemon unlinks only
 * the socket files it bound itself.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chownSync, existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { HUSH, slowRequest, startDaemon, waitFor, type Daemon } from "./_harness.ts";

const started: Daemon[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  started.forEach((d) => d.cleanup());
});
async function daemon(args: string[] = [], opts = {}) {
  const d = await startDaemon(args, opts);
  started.push(d);
  return d;
}

/** Start `hush serve ARGS`; if it is still running after `ms`, report so and kill it. */
async function tryServe(args: string[], ms = 8000): Promise<{ code: number | null; stderr: string }> {
  const p = Bun.spawn([HUSH, "serve", ...args], { env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(p.stderr).text();
  const code = await Promise.race([p.exited, Bun.sleep(ms).then(() => null)]);
  if (code === null) {
    p.kill("SIGKILL");
    await p.exited;
  }
  return { code, stderr: await stderr };
}

/** Open `n` connections at once; resolves to how many the kernel accepted and refused. */
async function openMany(path: string, n: number): Promise<{ ok: number; refused: number }> {
  let ok = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: n }, () => new Promise<void>((resolve) => {
      const s = connect({ path });
      sockets.push(s);
      s.once("connect", () => (ok++, resolve()));
      s.once("error", () => (refused++, resolve()));
    })),
  );
  return { ok, refused };
}

const ino = (p: string) => statSync(p).ino;

describe("the daemon lock decides who owns the socket path", () => {
  test("a frozen daemon (SIGSTOP) with full accept queues keeps its sockets; a second daemon is refused", async () => {
    const a = await daemon();
    const before = [ino(a.socket), ino(a.admin)];
    a.proc.kill("SIGSTOP");
    try {
      // Fill both accept queues: from now on a connect fails, as it would for a dead daemon.
      for (const p of [a.socket, a.admin]) {
        const { refused } = await openMany(p, 700);
        expect(refused).toBeGreaterThan(0);
      }
      const b = await tryServe(["--socket", a.socket]);
      expect(b.code).toBe(4);
      expect(b.stderr).toContain(`hush: error: another hush daemon (pid ${a.proc.pid}) is running or still shutting down`);
      expect(b.stderr).not.toContain("reclaimed");
    } finally {
      a.proc.kill("SIGCONT");
    }
    expect([ino(a.socket), ino(a.admin)]).toEqual(before);
    for (const s of sockets.splice(0)) s.destroy();
    expect((await a.cli(["health"])).code).toBe(0);
  }, 30_000);

  test("a daemon draining after SIGTERM keeps its lock; a second one starts after it has exited", async () => {
    const a = await daemon();
    sockets.push(await slowRequest(a.socket));
    const t0 = Date.now();
    a.proc.kill("SIGTERM");
    await waitFor(() => a.log().includes("shutting down"), 5000, "the drain to begin");
    const b = await tryServe(["--socket", a.socket]);
    expect(Date.now() - t0).toBeLessThan(4500); // B was refused while A was still draining
    expect(b.code).toBe(4);
    expect(b.stderr).toContain(`another hush daemon (pid ${a.proc.pid})`);
    a.proc.kill("SIGTERM"); // a second signal cuts the drain short
    expect(await a.proc.exited).toBe(0);
    expect(existsSync(a.socket)).toBe(false);
    const c = await daemon([], { dir: a.dir, socket: a.socket });
    expect(c.log()).not.toContain("reclaimed");
    expect((await c.cli(["health"])).code).toBe(0);
  }, 30_000);

  test("a draining daemon never unlinks socket files it did not bind (the lock file removed under it)", async () => {
    const a = await daemon();
    sockets.push(await slowRequest(a.socket));
    a.proc.kill("SIGTERM");
    await waitFor(() => a.log().includes("shutting down"), 5000, "the drain to begin");
    // Someone deletes the lock file: a new daemon gets a lock on a new file and
    // binds the path, since the draining daemon no longer answers there.
    rmSync(join(a.socket, "..", "hush.lock"), { force: true });
    const b = await daemon([], { dir: a.dir, socket: a.socket });
    const bound = [ino(b.socket), ino(b.admin)];
    a.proc.kill("SIGTERM"); // a second signal cuts the drain short
    expect(await a.proc.exited).toBe(0);
    expect(a.log()).toContain("stopped; store wiped, sockets removed");
    expect([ino(b.socket), ino(b.admin)]).toEqual(bound);
    expect((await b.cli(["health"])).code).toBe(0);
    expect((await b.cli(["workers", "list"])).code).toBe(0);
  }, 30_000);

  test("the lock is held on a close-on-exec descriptor and names the holder; it is dropped by kill -9", async () => {
    const a = await daemon();
    const lock = join(a.socket, "..", "hush.lock");
    expect(readFileSync(lock, "utf8")).toBe(`${a.proc.pid}\n`);
    expect(statSync(lock).mode & 0o777).toBe(0o600);
    const fd = readdirSync(`/proc/${a.proc.pid}/fd`).find((f) => readlinkSync(`/proc/${a.proc.pid}/fd/${f}`) === lock);
    expect(fd).toBeDefined();
    const flags = Number.parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/${a.proc.pid}/fdinfo/${fd}`, "utf8"))![1], 8);
    expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC: an exec: source child never inherits the lock
    a.proc.kill("SIGKILL");
    await a.proc.exited;
    const b = await daemon([], { dir: a.dir, socket: a.socket });
    expect(b.log()).toContain("reclaimed a stale socket");
    expect(readFileSync(lock, "utf8")).toBe(`${b.proc.pid}\n`);
  });

  test.skipIf(process.getuid?.() !== 0)("a lock file owned by another user is refused", async () => {
    // Needs root to chown the lock file to nobody; skipped (with this reason) elsewhere.
    const a = await daemon();
    const lock = join(a.socket, "..", "hush.lock");
    expect(await a.stop()).toBe(0);
    chownSync(lock, 65534, 65534);
    const b = await tryServe(["--socket", a.socket]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`the daemon lock ${lock} is owned by uid 65534, not by you`);
  });
});
