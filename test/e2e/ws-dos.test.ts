/**
 * Denial of service through the WebSocket transport, against the compiled
 * binary (src/server/ws.ts, ws-guard.ts; PROTOCOL.md §4 "The WebSocket
 * transport"): one address holding upgrades must not lock out the clients
 * (they fall back to HTTP when the upgrade is refused), unverified
 * connections are closed, a connection that keeps failing past its source's
 * failure budget is closed (4029), and a peer that does not read its answers
 * is disconnected instead of buffered for.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Client } from "../../src/client/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { encodeRequest } from "../../src/wire/frame.ts";
import { rawRequest, startDaemon, waitFor, type Daemon } from "./_harness.ts";

const SDK = resolve(import.meta.dir, "../../dist/sdk/index.mjs");
const hasNode = Bun.which("node") !== null;
const daemons: Daemon[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const d of daemons) d.cleanup();
});

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

async function daemon(args: string[]): Promise<Daemon> {
  const d = await startDaemon(args);
  daemons.push(d);
  return d;
}

/** A client-to-server binary frame (masked with a zero mask, so the payload is as given). */
function frame(payload: string | Uint8Array): Buffer {
  const p = Buffer.from(payload);
  if (p.length >= 1 << 16) throw new Error("frames under 64 KiB only");
  const len = p.length < 126 ? [0x80 | p.length] : [0x80 | 126, p.length >> 8, p.length & 0xff];
  return Buffer.concat([Buffer.from([0x82, ...len, 0, 0, 0, 0]), p]);
}

const UPGRADE = () =>
  `GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

/** A raw upgrade on a fresh socket: the HTTP status it got; the socket stays open, and is no longer read once upgraded. */
function rawUpgrade(open: () => Socket, ready: string): Promise<{ status: number; sock: Socket }> {
  return new Promise((resolve, reject) => {
    const sock = open();
    sockets.push(sock);
    sock.on("error", () => {});
    sock.once(ready, () => sock.write(UPGRADE()));
    sock.once("data", (b: Buffer) => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(b.toString("latin1"))?.[1] ?? 0);
      if (status === 101) sock.pause();
      resolve({ status, sock });
    });
    setTimeout(() => reject(new Error("no answer to the upgrade")), 10_000);
  });
}
const tlsUpgrade = (port: number) => rawUpgrade(() => tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }), "secureConnect");
const unixUpgrade = (path: string) => rawUpgrade(() => netConnect({ path }), "connect");

async function metric(d: Daemon, line: string): Promise<number> {
  const r = await rawRequest(d.admin, "GET", "/metrics");
  const m = new RegExp(`^${line.replace(/[{}"]/g, (c) => "\\" + c)} (\\d+)`, "m").exec(r.text);
  return Number(m?.[1] ?? 0);
}

/** Run the Node SDK (dist/sdk/index.mjs): set then get one key; prints the value. */
async function nodeSdk(env: Record<string, string>): Promise<{ code: number; out: string }> {
  const f = join(daemons[0]!.dir, "sdk.mjs");
  writeFileSync(f, `import { Client } from ${JSON.stringify(SDK)};\nconst h = Client.fromEnv();\nawait h.set("sdk", "v", { ttlMs: 60000 });\nconsole.log(await h.get("sdk"));\nawait h.close?.();\n`);
  const p = Bun.spawn(["node", f], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

describe("connections held by one address", () => {
  test("unverified upgrades from one address fill only their share; the CLI and the SDK still work (HTTP fallback), and the refusal is logged", async () => {
    const port = freePort();
    const url = `https://127.0.0.1:${port}`;
    const d = await daemon(["--listen", url, "--ws-max-connections", "24"]);
    const statuses: number[] = [];
    for (let i = 0; i < 24; i++) statuses.push((await tlsUpgrade(port)).status);

    const cred = await d.issue("w");
    const env = { HUSH_CREDENTIAL: cred };
    // Over hush.sock: the upgrade is refused, the call goes over HTTP.
    const set = await d.cli(["kv", "set", "k", "--ttl", "1m"], { env, stdin: "v1" });
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    // Over the TLS port (the credential carries the pin).
    const get = await d.cli(["kv", "get", "k"], { env: { ...env, HUSH_URL: url } });
    expect(get.stderr).toBe("");
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toBe("v1");
    if (hasNode) {
      for (const extra of [{}, { HUSH_URL: url }] as Record<string, string>[]) {
        const r = await nodeSdk({ HUSH_SOCKET: d.socket, ...env, ...extra });
        expect(r.out.trim()).toBe("v");
        expect(r.code).toBe(0);
      }
    }
    // A quarter of the cap is kept for connections that carry a verified request.
    expect(statuses.filter((s) => s === 101).length).toBe(18);
    expect(statuses.filter((s) => s === 503).length).toBe(6);
    expect(d.log()).toContain("WebSocket upgrades refused");
    expect(await metric(d, 'hush_rejected_total{reason="ws_unverified"}')).toBeGreaterThanOrEqual(6);
  });

  test("past --ws-max-connections-source the TLS port answers 503; hush.sock (one source for every local caller) is not capped per source", async () => {
    const port = freePort();
    const d = await daemon(["--listen", `https://127.0.0.1:${port}`, "--ws-max-connections-source", "3"]);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await tlsUpgrade(port)).status);
    expect(statuses).toEqual([101, 101, 101, 503, 503]);
    for (let i = 0; i < 5; i++) expect((await unixUpgrade(d.socket)).status).toBe(101);
    expect(await metric(d, 'hush_rejected_total{reason="ws_source"}')).toBe(2);
  });

  test("a connection that carries no verified request is closed (4000) after --ws-verify-timeout, unsigned messages or not", async () => {
    const d = await daemon(["--ws-verify-timeout", "1s"]);
    const ws = new WebSocket(`ws+unix://${d.socket}:/v1/ws`);
    const closed = new Promise<{ code: number; reason: string }>((r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })));
    await new Promise((r) => (ws.onopen = r));
    let i = 0;
    const t = setInterval(() => ws.readyState === 1 && ws.send(new TextEncoder().encode(`k${i++} GET /v1/whoami\n\n`)), 200);
    try {
      expect(await closed).toEqual({ code: 4000, reason: "no verified request" });
    } finally {
      clearInterval(t);
    }
    expect(await metric(d, 'hush_ws_closed_total{reason="unverified"}')).toBe(1);
  });
});

describe("floods on one connection", () => {
  test("failing messages past the source's failure budget close the connection (4029) instead of being answered one by one", async () => {
    const d = await daemon([]);
    const ws = new WebSocket(`ws+unix://${d.socket}:/v1/ws`);
    ws.binaryType = "arraybuffer";
    let answers = 0;
    ws.onmessage = () => answers++;
    const closed = new Promise<{ code: number; reason: string }>((r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })));
    await new Promise((r) => (ws.onopen = r));
    const te = new TextEncoder();
    for (let i = 0; i < 5_000; i++) ws.send(te.encode(`${i.toString(36)} GET /v1/x\n\n`));
    expect((await closed).code).toBe(4029);
    // The burst of the budget (20 by default) and the one that closed it; nothing after.
    expect(answers).toBeLessThan(100);
    expect((await rawRequest(d.socket, "GET", "/v1/health")).status).toBe(200);
    expect(await metric(d, 'hush_ws_closed_total{reason="failures"}')).toBe(1);
  });

  test("a peer that does not read its answers is disconnected, not buffered for", async () => {
    const d = await daemon([]);
    const { status, sock } = await unixUpgrade(d.socket);
    expect(status).toBe(101);
    // Health is public and succeeds (nothing is charged): only the unread answers stop it.
    const chunk = Buffer.concat(Array.from({ length: 1_000 }, (_, i) => frame(`${i.toString(36)} GET /v1/health\n\n`)));
    for (let i = 0; i < 40 && !sock.destroyed; i++) {
      if (!sock.write(chunk)) await Promise.race([new Promise((r) => sock.once("drain", r)), Bun.sleep(500)]);
    }
    await waitFor(async () => (await metric(d, 'hush_ws_closed_total{reason="backpressure"}')) === 1, 10_000, "the connection to be closed");
    expect(await metric(d, "hush_ws_connections")).toBe(0);
    expect(d.log().match(/WebSocket connection closed: its answers are not read/g)?.length).toBe(1);
  });

  test("unread answers are bounded for all connections together: past 32 connections holding them, the next one is closed", async () => {
    // A per-connection bound of 2 × 4 MiB, which no single peer below reaches (12 000 answers of about 70 bytes).
    const d = await daemon(["--ws-max-message", "4m", "--ws-verify-timeout", "5m"]);
    const peers = await Promise.all(Array.from({ length: 36 }, () => unixUpgrade(d.socket)));
    const chunk = Buffer.concat(Array.from({ length: 12_000 }, (_, i) => frame(`${i.toString(36)} GET /v1/health\n\n`)));
    for (const p of peers) p.sock.write(chunk);
    await waitFor(async () => (await metric(d, 'hush_ws_closed_total{reason="backpressure"}')) >= 4, 20_000, "connections past the 32nd to be closed");
    await waitFor(async () => (await metric(d, 'hush_requests_total{route="health",code="200"}')) >= 32 * 12_000, 20_000, "the 32 others to be answered");
    expect(await metric(d, 'hush_ws_closed_total{reason="backpressure"}')).toBe(4);
    expect(await metric(d, "hush_ws_connections")).toBe(32);
    expect((await rawRequest(d.socket, "GET", "/v1/health")).status).toBe(200);
  });
});

describe("a client that reads its answers", () => {
  test("32 concurrent gets of a 250 KiB value on one WebSocket (SDK default transport) all succeed, past the unread-answers bound", async () => {
    const d = await daemon([]);
    const c = new Client({ socket: d.socket, credential: await d.issue("big"), autoRekey: false, connections: 1 }); // the whole burst on one connection
    const big = "x".repeat(250 * 1024);
    await c.set("big", big, { ttlMs: 60_000 });
    const got = await Promise.all(Array.from({ length: 32 }, () => c.get("big").then((v) => (v === big ? "ok" : "wrong"), (e: any) => String(e?.code ?? e))));
    // Counters too: each incr reported is applied once, none reported failed.
    const incrs = await Promise.all([
      ...Array.from({ length: 16 }, () => c.incr("n", 1, { ttlMs: 60_000 }).then(() => "ok", (e: any) => String(e?.code ?? e))),
      ...Array.from({ length: 16 }, () => c.get("big").then(() => "ok", (e: any) => String(e?.code ?? e))),
    ]);
    const n = await c.incr("n", 1, { ttlMs: 60_000 });
    // Over the WebSocket, not HTTP: its one connection is still open.
    const open = await metric(d, "hush_ws_connections");
    c.close();
    expect(open).toBe(1);
    expect(got.filter((r) => r !== "ok")).toEqual([]);
    expect(incrs.filter((r) => r !== "ok")).toEqual([]);
    expect(n).toBe(17);
    expect(await metric(d, 'hush_ws_closed_total{reason="backpressure"}')).toBe(0);
  });

  test("answers held for a peer that stops reading mid-burst are dropped with the connection once they do not drain", async () => {
    const d = await daemon([]);
    const cred = await d.issue("stall");
    const c = new Client({ socket: d.socket, credential: cred, autoRekey: false, transport: "http" });
    await c.set("big", "x".repeat(250 * 1024), { ttlMs: 60_000 });
    c.close();
    const key = decodeCredential(cred);
    const { status, sock } = await unixUpgrade(d.socket);
    expect(status).toBe(101);
    // 40 signed gets (about 10 MiB of answers, under 128 in flight): more than Bun buffers, fewer than the daemon may hold.
    const target = "/v1/kv/big";
    sock.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => frame(encodeRequest(`g${i}`, "GET", target, { authorization: signRequest(key.macKey, key.keyId, { method: "GET", target }).authorization })))));
    await waitFor(async () => (await metric(d, 'hush_ws_closed_total{reason="backpressure"}')) === 1, 30_000, "the stalled connection to be closed");
    expect(await metric(d, "hush_ws_connections")).toBe(0);
    expect(d.log()).toContain("unread answers did not drain");
  });
});
