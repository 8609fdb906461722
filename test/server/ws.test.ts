/**
 * The daemon's WebSocket transport (src/server/ws.ts) with a real in-process
 * daemon and raw clients: its limits (message size, in flight per connection
 * and per key, connections, idle time), malformed messages, replays across
 * connections and transports, and what it refuses to carry. A second
 * listener on the same daemon state serves a route table with a slow route,
 * so that messages stay in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { encodeRequest } from "../../src/wire/frame.ts";
import { createWsTransport, type WsTransport } from "../../src/server/ws.ts";
import { createServerMetrics } from "../../src/server/metrics.ts";
import { createFetch } from "../../src/server/app.ts";
import { ROUTES, type Route } from "../../src/server/routes.ts";
import { ok } from "../../src/server/http.ts";
import type { AuditEvent } from "../../src/server/state.ts";
import { writeFileSync } from "node:fs";
import { openRaw, rawSend, closeRaw } from "../_transport.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
let slowSock: string;
let slow: { stop(b: boolean): void };
let slowWs: WsTransport;
let release: () => void = () => {};
const events: AuditEvent[] = [];
const LIMITS = { maxMessageBytes: 4096, maxInFlight: 4, maxInFlightPerKey: 6, idleTimeoutMs: 60_000, maxConnections: 6, maxConnectionsPerSource: 64, verifyTimeoutMs: 60_000 };

type Key = ReturnType<Daemon["state"]["registry"]["create"]>;
const newKey = () => d.state.registry.create({ kind: "worker", name: "ws", via: "issue" });

/** An empty audit file (the audit stream reads it). */
function auditFile(): string {
  const f = join(dir, "audit.jsonl");
  writeFileSync(f, "");
  return f;
}

beforeAll(async () => {
  dir = tempDir("hush-ws-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), limits: { ...DEFAULTS.limits, maxBodyBytes: 2048, maxValueBytes: 1024 }, ws: LIMITS },
    { version: "test", audit: { record: (e) => void events.push(e), healthy: true }, auditLog: { path: auditFile(), subscribe: () => () => {}, close: () => true } },
  );
  // The slow route waits until release() is called.
  let gate = Promise.withResolvers<void>();
  release = () => (gate.resolve(), (gate = Promise.withResolvers<void>()));
  const routes: Route[] = [...ROUTES, { method: "GET", path: "/v1/whoami/slow", role: "self", handler: async () => (await gate.promise, ok({ slow: true })) }];
  const m = createServerMetrics(d.state);
  slowWs = createWsTransport(d.state, m, { routes });
  slowSock = join(dir, "s", "slow.sock");
  slow = Bun.serve({ unix: slowSock, fetch: slowWs.fetch("worker", createFetch(d.state, "worker", m)) as any, websocket: slowWs.websocket });
});
afterAll(async () => {
  closeRaw();
  release();
  slowWs.close();
  slow.stop(true);
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

function signed(key: Key, id: string, method: string, target: string, body?: string) {
  const s = signRequest(key.macKey, key.id, { method, target, body });
  return { bytes: encodeRequest(id, method, target, { authorization: s.authorization }, body), signature: s.signature };
}
const metric = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => "\\" + c)} (\\d+)`, "m").exec(d.state.metrics.render())?.[1] ?? 0);

describe("messages", () => {
  test("a malformed message with an id is answered invalid_request under that id; the connection stays", async () => {
    const r = await openRaw(d.socketPath);
    const before = metric('hush_rejected_total{reason="ws_malformed"}');
    r.send(Buffer.from("m1 GET /v1/whoami\nAuthorization: x\n\n"));
    r.send(Buffer.from("m2 GET /v1/kv/a/../b\n\n"));
    for (const id of ["m1", "m2"]) {
      const a = await r.answer(id);
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body)).toMatchObject({ error: "invalid_request" });
      expect(a.headers["hush-signature"]).toBeUndefined();
    }
    expect(JSON.parse((await r.answer("m2")).body).message).toContain("URL parser");
    expect(metric('hush_rejected_total{reason="ws_malformed"}')).toBe(before + 2);
    r.send(Buffer.from("m3 GET /v1/health\n\n"));
    expect((await r.answer("m3")).status).toBe(200);
    r.close();
  });

  test("a message over the message cap closes the connection with 1009; a body over the body cap is too_large", async () => {
    const key = newKey();
    const r = await openRaw(d.socketPath);
    const big = JSON.stringify({ value: "x".repeat(2100), ttl_ms: 60_000 });
    const m = signed(key, "b1", "PUT", "/v1/kv/big", big);
    r.send(m.bytes);
    const a = await r.answer("b1");
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body).error).toBe("too_large");
    r.send(new Uint8Array(LIMITS.maxMessageBytes + 1));
    expect((await r.closed).code).toBe(1009);
    await Bun.sleep(20);
    expect(metric('hush_ws_closed_total{reason="too_large"}')).toBeGreaterThanOrEqual(1);
  });

  test("the audit stream is not carried (HTTP only)", async () => {
    const admin = d.state.registry.create({ kind: "admin", name: "a", via: "issue" });
    const r = await openRaw(d.socketPath);
    r.send(signed(admin, "s1", "GET", "/v1/admin/audit").bytes);
    const a = await r.answer("s1");
    expect(a.status).toBe(400);
    expect(JSON.parse(a.body).message).toContain("HTTP only");
    r.close();
  });

  test("every message is audited and counted like an HTTP request", async () => {
    const r = await openRaw(d.socketPath);
    const before = metric('hush_requests_total{route="whoami",code="401"}');
    r.send(encodeRequest("u1", "GET", "/v1/whoami", {}));
    expect((await r.answer("u1")).status).toBe(401);
    expect(events.at(-1)).toMatchObject({ action: "auth", result: "denied", reason: "malformed", target: "whoami" });
    expect(metric('hush_requests_total{route="whoami",code="401"}')).toBe(before + 1);
    r.close();
  });
});

describe("replays", () => {
  test("the same message again, on the same or another connection, or over HTTP, is refused (replayed_nonce)", async () => {
    const key = newKey();
    const m = signed(key, "r1", "GET", "/v1/whoami");
    const a = await openRaw(d.socketPath);
    const b = await openRaw(d.socketPath);
    const replayedBefore = metric('hush_auth_failures_total{reason="replayed_nonce"}');
    const auditedBefore = events.length;
    a.send(m.bytes);
    expect((await a.answer("r1")).status).toBe(200);
    const replay = encodeRequest("r2", "GET", "/v1/whoami", { authorization: signRequestHeader(m.bytes) });
    a.send(replay);
    b.send(replay);
    expect((await a.answer("r2")).status).toBe(401);
    expect((await b.answer("r2")).status).toBe(401);
    const http = await rawSend("http", d.socketPath, "GET", "/v1/whoami", { authorization: signRequestHeader(m.bytes) });
    expect(http.status).toBe(401);
    // All three are counted; the audit log gets the first of its kind from this source at once and
    // the repeats in the source's next summary (failures per source, PROTOCOL.md §9.5).
    expect(metric('hush_auth_failures_total{reason="replayed_nonce"}')).toBe(replayedBefore + 3);
    const audited = events.slice(auditedBefore).filter((e) => e.action === "auth");
    expect(audited.length).toBeGreaterThanOrEqual(1);
    expect(audited.every((e) => e.reason === "replayed_nonce")).toBe(true);
    a.close();
    b.close();
  });

  test("an answer verifies only for its own request: another request's signature does not match", async () => {
    const key = newKey();
    const r = await openRaw(d.socketPath);
    const x = signed(key, "x", "GET", "/v1/whoami");
    const y = signed(key, "y", "GET", "/v1/whoami");
    r.send(x.bytes);
    r.send(y.bytes);
    const [ax, ay] = [await r.answer("x"), await r.answer("y")];
    expect(ax.headers["hush-signature"]).toBe(signResponse(key.macKey, x.signature, ax.status, ax.body));
    expect(ay.headers["hush-signature"]).toBe(signResponse(key.macKey, y.signature, ay.status, ay.body));
    expect(ax.headers["hush-signature"]).not.toBe(signResponse(key.macKey, y.signature, ax.status, ax.body));
    r.close();
  });
});

/** Wait until at least `n` requests are in flight in the daemon. */
async function inFlight(n: number): Promise<void> {
  for (let i = 0; i < 250 && d.state.inFlight < n; i++) await Bun.sleep(20);
  expect(d.state.inFlight).toBeGreaterThanOrEqual(n);
}

/** The authorization line of an encoded request. */
function signRequestHeader(bytes: Uint8Array): string {
  return /\nauthorization: ([^\n]+)\n/.exec(Buffer.from(bytes).toString("latin1"))![1]!;
}

describe("limits on messages in flight", () => {
  test("a flood on one connection: past --ws-max-in-flight the rest is busy; the held ones complete", async () => {
    const key = newKey();
    const r = await openRaw(slowSock);
    const before = metric('hush_rejected_total{reason="ws_in_flight"}');
    const sent = Array.from({ length: 20 }, (_, i) => signed(key, `f${i}`, "GET", "/v1/whoami/slow"));
    for (const m of sent) r.send(m.bytes);
    // The refusals come at once; the held ones wait for the gate.
    for (let i = LIMITS.maxInFlight; i < 20; i++) {
      const a = await r.answer(`f${i}`);
      expect(a.status).toBe(503);
      expect(JSON.parse(a.body)).toMatchObject({ error: "busy", message: "too many messages in flight on this connection" });
    }
    expect(r.answers.filter((a) => a.status === 200)).toHaveLength(0);
    expect(metric('hush_rejected_total{reason="ws_in_flight"}')).toBe(before + 20 - LIMITS.maxInFlight);
    release();
    for (let i = 0; i < LIMITS.maxInFlight; i++) {
      const a = await r.answer(`f${i}`);
      expect(a.status).toBe(200);
      expect(a.headers["hush-signature"]).toBe(signResponse(key.macKey, sent[i]!.signature, 200, a.body));
    }
    r.close();
  });

  test("per key across connections; another key (or a message only naming the key) is not held back", async () => {
    const key = newKey();
    const other = newKey();
    const [a, b] = [await openRaw(slowSock), await openRaw(slowSock)];
    for (let i = 0; i < 4; i++) a.send(signed(key, `a${i}`, "GET", "/v1/whoami/slow").bytes);
    for (let i = 0; i < 3; i++) b.send(signed(key, `b${i}`, "GET", "/v1/whoami/slow").bytes);
    const refused = await b.answer("b2");
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).message).toBe("too many messages in flight for this key");
    // Another key still gets through on the same connection.
    b.send(signed(other, "o1", "GET", "/v1/whoami").bytes);
    expect((await b.answer("o1")).status).toBe(200);
    release();
    for (const id of ["a0", "a1", "a2", "a3"]) expect((await a.answer(id)).status).toBe(200);
    for (const id of ["b0", "b1"]) expect((await b.answer(id)).status).toBe(200);
    a.close();
    b.close();
  });

  test("unverified messages naming a key do not use up its share", async () => {
    const key = newKey();
    const forged: Key = { ...key, macKey: new Uint8Array(32) } as Key;
    const r = await openRaw(slowSock);
    for (let i = 0; i < 4; i++) r.send(signed(forged, `z${i}`, "GET", "/v1/whoami/slow").bytes);
    for (let i = 0; i < 4; i++) expect((await r.answer(`z${i}`)).status).toBe(401);
    const s = await openRaw(slowSock);
    for (let i = 0; i < 4; i++) s.send(signed(key, `k${i}`, "GET", "/v1/whoami/slow").bytes);
    await inFlight(4);
    release();
    for (let i = 0; i < 4; i++) expect((await s.answer(`k${i}`)).status).toBe(200);
    r.close();
    s.close();
  });
});

describe("connections", () => {
  test("past --ws-max-connections the upgrade is answered 503 busy; the gauge counts open connections", async () => {
    await Bun.sleep(50);
    const open = [];
    const base = d.state.metrics.render();
    const start = Number(/^hush_ws_connections (\d+)/m.exec(base)?.[1]);
    const key = newKey();
    for (let i = start; i < LIMITS.maxConnections; i++) {
      // Verified connections may use the whole cap; unverified ones only up to its reserve (ws-guard.ts).
      const r = await openRaw(d.socketPath);
      r.send(signed(key, "v", "GET", "/v1/whoami").bytes);
      expect((await r.answer("v")).status).toBe(200);
      open.push(r);
    }
    expect(Number(/^hush_ws_connections (\d+)/m.exec(d.state.metrics.render())?.[1])).toBe(LIMITS.maxConnections);
    const res = await fetch("http://localhost/v1/ws", { unix: d.socketPath, headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } } as RequestInit);
    expect(res.status).toBe(503);
    expect((await res.json()).error).toBe("busy");
    for (const c of open) c.close();
  });

  test("GET /v1/ws without an upgrade is invalid_request", async () => {
    const r = await rawSend("http", d.socketPath, "GET", "/v1/ws");
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("invalid_request");
  });

  test("an idle connection is closed with 4000 (nothing unanswered was processed)", async () => {
    const st = { ...d.state, config: { ...d.state.config, ws: { ...LIMITS, idleTimeoutMs: 150 } } };
    const t = createWsTransport(st, createServerMetrics(d.state));
    const sock = join(dir, "s", "idle.sock");
    const srv = Bun.serve({ unix: sock, fetch: t.fetch("worker", () => new Response("")) as any, websocket: t.websocket });
    try {
      const r = await openRaw(sock);
      r.send(Buffer.from("h GET /v1/health\n\n"));
      await r.answer("h");
      const c = await r.closed;
      expect(c).toEqual({ code: 4000, reason: "idle" });
    } finally {
      t.close();
      srv.stop(true);
    }
  });
});
