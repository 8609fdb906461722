/**
 * `GET /v1/status` and `hush status` through the compiled binary: health
 * stays public and minimal; status needs a key (worker or admin, over
 * WebSocket and HTTP) or admin.sock, and gives uptime, memory, items and
 * bytes against their limits, requests in flight, and whether the daemon
 * is draining or degraded (the audit file cannot be written: on a full
 * tmpfs, which needs root; skipped with the reason otherwise).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/index.ts";
import { rawRequest, slowRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const started: Daemon[] = [];
const cleanups: (() => void)[] = [];
afterAll(() => {
  started.forEach((d) => d.cleanup());
  cleanups.forEach((f) => f());
});

const LIMITS = ["--max-items", "100", "--max-value", "1k", "--max-body", "64k"];

async function serve(extra: string[] = []) {
  const d = await startDaemon([...LIMITS, ...extra]);
  started.push(d);
  return d;
}

describe("status", () => {
  test("health stays public and minimal; status is signed, the same over WebSocket, HTTP and admin.sock, and counts what the store holds", async () => {
    const d = await serve();
    const h = await rawRequest(d.socket, "GET", "/v1/health");
    expect(h.json).toEqual({ ok: true, version: expect.any(String) });
    const unsigned = await rawRequest(d.socket, "GET", "/v1/status");
    expect({ status: unsigned.status, error: unsigned.json.error }).toEqual({ status: 401, error: "auth_failed" });

    const cred = await d.issue("st");
    const ws = new Client({ socket: d.socket, credential: cred, autoRekey: false });
    const http = new Client({ socket: d.socket, credential: cred, autoRekey: false, transport: "http" });
    const empty = await ws.status();
    expect(empty).toMatchObject({ status: "ok", draining: false, degraded: false, audit: "off", items: { used: 0, limit: 100 }, bytes: { used: 0, limit: 100 * 1024 } });
    expect(empty.inFlight).toEqual({ used: 1, limit: 512 }); // this request
    expect(empty.memory.rssBytes).toBeGreaterThan(1 << 20);
    expect(empty.memory.heapUsedBytes).toBeGreaterThan(0);
    expect(empty.uptimeMs).toBeGreaterThanOrEqual(0);

    await ws.set("a", "x".repeat(500), { ttlMs: 60_000 });
    await ws.set("b", "y".repeat(300), { ttlMs: 60_000 });
    await (await ws.lock("l", { ttlMs: 60_000 })).release();
    await ws.lock("m", { ttlMs: 60_000 });
    const viaHttp = await http.status();
    expect(viaHttp.items).toEqual({ used: 3, limit: 100 });
    expect(viaHttp.bytes.used).toBeGreaterThanOrEqual(800);
    expect((await ws.status()).items.used).toBe(3);

    const admin = await rawRequest(d.admin, "GET", "/v1/status");
    expect(admin.status).toBe(200);
    expect(admin.json).toMatchObject({ status: "ok", items: { used: 3, limit: 100 }, in_flight: { used: 1, limit: 512 } });
    expect(Object.keys(admin.json).sort()).toEqual(["audit", "bytes", "degraded", "draining", "in_flight", "items", "memory", "status", "uptime_ms", "version"]);

    // The CLI: as a worker (HUSH_CREDENTIAL) and on admin.sock; text and JSON.
    const asWorker = await d.cli(["status", "--json"], { env: { HUSH_CREDENTIAL: cred } });
    expect({ code: asWorker.code, err: asWorker.stderr }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(asWorker.stdout).items).toEqual({ used: 3, limit: 100 });
    const asOwner = await d.cli(["status"], { env: { HUSH_CREDENTIAL: undefined } });
    expect({ code: asOwner.code, err: asOwner.stderr }).toEqual({ code: 0, err: "" });
    expect(JSON.parse(asOwner.stdout).status).toBe("ok"); // stdout is not a terminal: JSON
    ws.close();
    http.close();
  }, 30_000);

  test("while draining, status (over an open WebSocket) says so; other requests are refused", async () => {
    const d = await serve();
    const ws = new Client({ socket: d.socket, credential: await d.issue("drain"), autoRekey: false, retries: 0 });
    expect((await ws.status()).status).toBe("ok");
    const slow = await slowRequest(d.socket); // keeps the drain waiting (up to 5 s)
    d.proc.kill("SIGTERM");
    await waitFor(() => d.log().includes("shutting down"), 5000, "the stop to begin");
    const s = await ws.status();
    expect(s).toMatchObject({ status: "draining", draining: true });
    await expect(ws.get("a")).rejects.toMatchObject({ code: "unavailable" });
    slow.destroy();
    expect(await d.proc.exited).toBe(0);
    ws.close();
  }, 30_000);

  test("degraded while the audit file cannot be written (full tmpfs), ok again once it can; hush status exits 6 meanwhile", async () => {
    if (process.getuid?.() !== 0) return console.warn("skipped: needs root to mount a tmpfs for the audit file");
    const mnt = tempDir("hush-status-fs-");
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt]);
    if (m.exitCode !== 0) return console.warn(`skipped: mount failed: ${m.stderr.toString().trim()}`);
    cleanups.unshift(() => Bun.spawnSync(["umount", "-l", mnt]));
    const d = await serve(["--audit-file", join(mnt, "audit.log")]);
    const cred = await d.issue("deg");
    const c = new Client({ socket: d.socket, credential: cred, autoRekey: false });
    expect((await c.status()).audit).toBe("ok");
    const filler = join(mnt, "fill");
    const fd = openSync(filler, "w");
    for (const n of [4096, 256, 16, 1]) {
      try {
        for (;;) writeSync(fd, Buffer.alloc(n, 0x61));
      } catch {}
    }
    closeSync(fd);
    // Audited changes until one's line cannot be written.
    for (let i = 0; i < 20 && !(await c.status()).degraded; i++) await rawRequest(d.admin, "POST", "/v1/admin/workers", { body: `{"name":"x${i}"}` });
    expect(await c.status()).toMatchObject({ status: "degraded", degraded: true, audit: "failing", draining: false });
    const cli = await d.cli(["status"], { env: { HUSH_CREDENTIAL: cred } });
    expect(cli.code).toBe(6);
    rmSync(filler);
    await waitFor(async () => !(await c.status()).degraded, 5000, "recovered");
    expect((await c.status()).status).toBe("ok");
    c.close();
  }, 30_000);
});
