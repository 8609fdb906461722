/**
 * The SDK's WebSocket transport (src/client/transport-ws.ts, ws-open.ts)
 * against a real in-process daemon:
 *
 * - concurrent calls of one Client share one connection (pipelined);
 * - a connection that drops mid-request fails the call with `unavailable`
 *   and `detail.sent: true` ("may have been carried out"), never "not sent";
 *   a daemon that is not there fails with `sent: false`, `connect: true`;
 *   an idle close (4000) is invisible: the next call reconnects; a refused
 *   upgrade says so, and with a fallback the calls go over HTTP for a while;
 * - an answer relabelled to another request's id does not verify;
 * - TLS: the pin is checked before any byte of the upgrade is written
 *   (Bun and Node);
 * - Node ≥ 20 through the built dist/sdk/index.mjs and the `ws` package
 *   bundled in it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { createServer as createTlsServer } from "node:tls";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client, HushError, createUnixTransport, createWsTransport, unixOpener } from "../../src/client/index.ts";
import { encodeCredential } from "../../src/keys/index.ts";
import { formatPin } from "../../src/crypto/index.ts";
import { createWsTransport as serverWs, type WsTransport } from "../../src/server/ws.ts";
import { createServerMetrics } from "../../src/server/metrics.ts";
import { createFetch } from "../../src/server/app.ts";
import { ROUTES, type Route } from "../../src/server/routes.ts";
import { ok } from "../../src/server/http.ts";
import { makeSelfSigned } from "../../src/server/tls.ts";
import { decodeAnswer, encodeAnswer } from "../../src/wire/frame.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
let cred: string;
let slowSock: string;
let slowWs: WsTransport;
let slow: { stop(b: boolean): void };
let entered: () => void = () => {};

beforeAll(async () => {
  dir = tempDir("hush-sdkws-");
  d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), keyRate: { rate: 0, burst: 0 } }, { version: "test" });
  const rec = d.state.registry.create({ kind: "worker", name: "sdk", via: "issue" });
  cred = encodeCredential({ kind: "worker", keyId: rec.id, macKey: rec.macKey, encKey: rec.encKey, serverPublic: d.state.serverKeys.active.publicKey });
  // A route that never answers (until the test gives up): a request stays in flight.
  const routes: Route[] = [...ROUTES, { method: "GET", path: "/v1/whoami/hang", role: "self", handler: () => (entered(), new Promise(() => {})) }];
  const m = createServerMetrics(d.state);
  slowWs = serverWs(d.state, m, { routes });
  slowSock = join(dir, "s", "slow.sock");
  slow = Bun.serve({ unix: slowSock, fetch: slowWs.fetch("worker", createFetch(d.state, "worker", m)) as any, websocket: slowWs.websocket });
  void ok;
});
afterAll(async () => {
  slowWs.close();
  slow.stop(true);
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

const wsGauge = () => Number(/^hush_ws_connections (\d+)/m.exec(d.state.metrics.render())?.[1]);

test("concurrent calls of one Client share its connections (2 by default, `connections` to change); answers are verified and matched", async () => {
  for (const [connections, want] of [[undefined, 2], [1, 1], [3, 3]] as const) {
    const before = wsGauge();
    const c = new Client({ socket: d.socketPath, credential: cred, transport: "ws", ...(connections ? { connections } : {}) });
    await Promise.all(Array.from({ length: 300 }, (_, i) => c.set(`p/${i}`, i, { ttlMs: 60_000 })));
    const got = await Promise.all(Array.from({ length: 300 }, (_, i) => c.get(`p/${i}`)));
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(wsGauge()).toBe(before + want);
    c.close();
    for (let i = 0; i < 50 && wsGauge() !== before; i++) await Bun.sleep(10);
  }
});

test("a sequential caller holds one connection", async () => {
  const before = wsGauge();
  const c = new Client({ socket: d.socketPath, credential: cred, transport: "ws" });
  for (let i = 0; i < 20; i++) await c.set(`s/${i}`, i, { ttlMs: 60_000 });
  expect(wsGauge()).toBe(before + 1);
  c.close();
});

describe("dropped connections", () => {
  test("a connection that drops mid-request: unavailable, sent: true (may have been carried out), not retried", async () => {
    const c = new Client({ socket: slowSock, credential: cred, transport: "ws" });
    await c.whoami();
    const inside = new Promise<void>((r) => (entered = r));
    const call = c.call("GET", "/v1/whoami/hang").catch((e) => e);
    await inside;
    slowWs.close(); // the daemon goes away with the request in flight: close 1001
    const e = await call;
    expect(e).toBeInstanceOf(HushError);
    expect(e.code).toBe("unavailable");
    expect(e.detail.sent).toBe(true);
    expect(e.detail.connect).toBeUndefined();
    expect(e.message).toContain("may have been carried out");
    c.close();
    slowWs = serverWs(d.state, createServerMetrics(d.state), {});
  });

  test("a daemon that is not there: unavailable, sent: false, connect: true", async () => {
    const c = new Client({ socket: join(dir, "s", "none.sock"), credential: cred, transport: "ws", retries: 1 });
    const e: any = await c.whoami().catch((x) => x);
    expect(e).toBeInstanceOf(HushError);
    expect(e.code).toBe("unavailable");
    expect(e.detail).toMatchObject({ connect: true, sent: false });
    expect(e.message).toContain("cannot reach the hush daemon");
    c.close();
  });

  test("a refused upgrade (503 busy): the error says so (not 'cannot reach'); with a fallback the call, and the next ones, go over HTTP", async () => {
    const sock = join(dir, "s", "busy.sock");
    let upgrades = 0;
    let posts = 0;
    const srv = Bun.serve({
      unix: sock,
      fetch(req) {
        if (new URL(req.url).pathname === "/v1/ws") return (upgrades++, Response.json({ error: "busy", message: "too many WebSocket connections" }, { status: 503 }));
        posts++;
        return Response.json({ ok: true });
      },
    });
    try {
      const bare = createWsTransport(unixOpener(sock), "busy", { retries: 0 });
      const e: any = await bare.request("GET", "/v1/x", {}).catch((x) => x);
      expect(e).toBeInstanceOf(HushError);
      expect(e.message).toContain("is running but refused the WebSocket upgrade");
      expect(e.message).not.toContain("cannot reach");
      expect(e.detail).toMatchObject({ connect: true, sent: false, upgradeStatus: 503 });
      bare.close();
      const t = createWsTransport(unixOpener(sock), "busy", { fallback: createUnixTransport(sock) });
      upgrades = 0;
      for (let i = 0; i < 3; i++) expect((await t.request("GET", "/v1/x", {})).status).toBe(200);
      expect(posts).toBe(3);
      expect(upgrades).toBe(1); // the fallback holds for FALLBACK_MS: no new upgrade per call
      t.close();
    } finally {
      srv.stop(true);
    }
  });

  test("an idle close (4000) is invisible: the next call opens a new connection", async () => {
    const t = serverWs({ ...d.state, config: { ...d.state.config, ws: { ...d.state.config.ws, idleTimeoutMs: 100 } } }, createServerMetrics(d.state));
    const sock = join(dir, "s", "idle.sock");
    const srv = Bun.serve({ unix: sock, fetch: t.fetch("worker", () => new Response("")) as any, websocket: t.websocket });
    try {
      const c = new Client({ socket: sock, credential: cred, transport: "ws" });
      expect((await c.whoami()).id).toBeString();
      await Bun.sleep(400);
      expect(t.size).toBe(0);
      expect((await c.whoami()).id).toBeString();
      c.close();
    } finally {
      t.close();
      srv.stop(true);
    }
  });
});

test("an answer relabelled to another request's id does not verify (auth_failed)", async () => {
  // A relay between the SDK and the daemon that swaps the ids of each pair of answers.
  const sock = join(dir, "s", "relay.sock");
  const srv = Bun.serve<{ up?: WebSocket; opened?: Promise<unknown>; held: Uint8Array[] }>({
    unix: sock,
    fetch: (req, s) => (s.upgrade(req, { data: { held: [] } }) ? undefined : new Response("", { status: 400 })),
    websocket: {
      open(ws) {
        const up = new WebSocket(`ws+unix://${d.socketPath}:/v1/ws`);
        up.binaryType = "arraybuffer";
        up.onmessage = (e) => {
          ws.data.held.push(new Uint8Array(e.data as ArrayBuffer));
          if (ws.data.held.length < 2) return;
          const [a, b] = ws.data.held.splice(0).map((x) => decodeAnswer(x)) as any[];
          ws.send(encodeAnswer(b.frame.id, a.frame.status, a.frame.headers, a.frame.body));
          ws.send(encodeAnswer(a.frame.id, b.frame.status, b.frame.headers, b.frame.body));
        };
        ws.data.up = up;
        ws.data.opened = new Promise((r) => (up.onopen = r));
      },
      async message(ws, m) {
        await ws.data.opened;
        ws.data.up!.send(m);
      },
    },
  });
  try {
    const c = new Client({ socket: sock, credential: cred, transport: "ws", retries: 0, connections: 1 }); // both calls on one connection, whose answers the relay swaps
    const r = await Promise.allSettled([c.get("p/1"), c.get("p/2")]);
    expect(r.map((x) => x.status)).toEqual(["rejected", "rejected"]);
    for (const x of r) expect((x as PromiseRejectedResult).reason).toMatchObject({ code: "auth_failed" });
    c.close();
  } finally {
    srv.stop(true);
  }
});

describe("TLS pin (wss)", () => {
  /** A TLS server that is not hush: records every byte written to it after the handshake. */
  async function tlsProbe() {
    const tls = makeSelfSigned(["127.0.0.1"]);
    const seen: Buffer[] = [];
    const srv = createTlsServer({ cert: tls.certPem, key: tls.keyPem }, (s) => {
      s.on("data", (c: Buffer) => seen.push(c));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    return { url: `https://127.0.0.1:${port}`, pin: formatPin(tls.pin), seen, close: () => srv.close() };
  }
  const wrong = "sha256//" + "B".repeat(42) + "A=";

  test("Bun: a wrong pin is refused before the upgrade request is written; the right one gets it", async () => {
    const p = await tlsProbe();
    try {
      const bad = new Client({ url: p.url, tlsPin: wrong, credential: cred, transport: "ws", retries: 0, timeoutMs: 2000 });
      const e: any = await bad.whoami().catch((x) => x);
      expect(e.code).toBe("auth_failed");
      expect(e.detail.pinMismatch).toBe(true);
      await Bun.sleep(100);
      expect(Buffer.concat(p.seen).length).toBe(0);
      const good = new Client({ url: p.url, tlsPin: p.pin, credential: cred, transport: "ws", retries: 0, timeoutMs: 500 });
      await good.whoami().catch(() => {});
      expect(Buffer.concat(p.seen).toString("latin1")).toStartWith("GET /v1/ws HTTP/1.1");
      bad.close();
      good.close();
    } finally {
      p.close();
    }
  });

  test("Node (dist/sdk/index.mjs, the ws package): the same", async () => {
    const p = await tlsProbe();
    try {
      const out = await node(`
        const bad = new Client({ url: ${JSON.stringify(p.url)}, tlsPin: ${JSON.stringify(wrong)}, credential: cred, retries: 0, timeoutMs: 2000 });
        const e = await bad.whoami().catch((x) => x);
        await new Promise((r) => setTimeout(r, 100));
        out({ code: e.code, pinMismatch: e.detail.pinMismatch });`);
      expect(out).toEqual({ code: "auth_failed", pinMismatch: true });
      expect(Buffer.concat(p.seen).length).toBe(0);
    } finally {
      p.close();
    }
  });
});

/** Run `body` in Node with `Client` from dist/sdk/index.mjs and `cred`; `out(x)` prints the result. */
async function node(body: string): Promise<any> {
  const file = join(dir, `n${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    file,
    `import { Client, HushError } from ${JSON.stringify(resolve(import.meta.dir, "../../dist/sdk/index.mjs"))};
     const cred = ${JSON.stringify(cred)};
     const out = (x) => process.stdout.write(JSON.stringify(x));
     ${body}
     process.exit(0);`,
  );
  const p = Bun.spawn(["node", file], { stdout: "pipe", stderr: "pipe", env: { ...process.env, HUSH_TRANSPORT: "" } });
  const [o, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`node exited ${code}: ${err}`);
  return JSON.parse(o);
}

test("Node ≥ 20 through dist/sdk/index.mjs: WebSocket by default, pipelined, typed errors", async () => {
  const out = await node(`
    const c = new Client({ socket: ${JSON.stringify(d.socketPath)}, credential: cred });
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.set("node/" + i, { i }, { ttlMs: 60000 })));
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => c.get("node/" + i)));
    const missing = await c.get("node/none").catch((e) => [e instanceof HushError, e.code]);
    const gone = new Client({ socket: ${JSON.stringify(join(dir, "s", "none.sock"))}, credential: cred, retries: 0 });
    const e = await gone.whoami().catch((x) => x);
    c.close();
    out({ n: got.filter((g, i) => g.i === i).length, missing, gone: [e.code, e.detail.sent, e.detail.connect] });`);
  expect(out).toEqual({ n: 50, missing: [true, "not_found"], gone: ["unavailable", false, true] });
});
