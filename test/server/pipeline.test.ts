/**
 * The transport-independent pipeline (src/server/pipeline.ts), driven with
 * neutral requests directly — no HTTP — against a real in-process daemon
 * state; and one request sent both ways to show HTTP adds nothing to the
 * answer a client verifies.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { answer, createPipeline, type NeutralRequest, type PipelineOptions } from "../../src/server/pipeline.ts";
import { compileRoutes, ROUTES, type Route } from "../../src/server/routes.ts";
import { routeLabel } from "../../src/server/metrics.ts";
import type { AuditEvent } from "../../src/server/state.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { utf8 } from "../../src/crypto/index.ts";
import { HushError } from "../../src/errors.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
const logs: string[] = [];
const events: AuditEvent[] = [];

beforeAll(async () => {
  dir = tempDir("hush-pipeline-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), keyRate: { rate: 1, burst: 3 } },
    { version: "test", log: new Logger({ format: "json", write: (l) => logs.push(l) }), audit: { record: (e) => void events.push(e), healthy: true } },
  );
});
afterAll(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Key = ReturnType<Daemon["state"]["registry"]["create"]>;
const newKey = (kind: "worker" | "admin" = "worker") => d.state.registry.create({ kind, name: "p", via: "issue" });

/** A listener's pipeline as one call: neutral request in, finished context out. */
function pipeline(listener: NeutralRequest["listener"], opts?: PipelineOptions) {
  const p = createPipeline(d.state, listener, opts);
  return (req: NeutralRequest) => answer(p, req);
}

function neutral(method: string, target: string, opts: { key?: Key; body?: string; listener?: NeutralRequest["listener"]; requestId?: string } = {}) {
  const s = opts.key ? signRequest(opts.key.macKey, opts.key.id, { method, target, body: opts.body }) : undefined;
  const req: NeutralRequest = {
    method,
    target,
    authorization: s?.authorization ?? null,
    requestId: opts.requestId ?? null,
    contentType: opts.body === undefined ? null : "application/json",
    body: opts.body === undefined ? new Uint8Array(0) : utf8(opts.body),
    listener: opts.listener ?? "worker",
    peer: "unix",
  };
  return { req, signature: s?.signature ?? "" };
}

describe("the pipeline, without HTTP", () => {
  test("a public route is answered unsigned, before the body is asked for", async () => {
    const run = pipeline("worker");
    const { req } = neutral("GET", "/v1/health");
    req.body = () => {
      throw new Error("the body must not be read for a public route");
    };
    const c = await run(req);
    expect(c.answer!.status).toBe(200);
    expect(JSON.parse(c.answer!.body)).toEqual({ ok: true, version: "test" });
    expect(c.answer!.headers?.["hush-signature"]).toBeUndefined();
    expect(c.label).toBe("health");
  });

  test("an unauthenticated request gets the generic auth_failed; the reason goes to the audit log only", async () => {
    const run = pipeline("worker");
    const c = await run(neutral("GET", "/v1/kv/a").req);
    expect(c.answer!.status).toBe(401);
    expect(JSON.parse(c.answer!.body)).toEqual({ error: "auth_failed", message: "authentication failed", corr_id: c.corrId });
    expect(c.answer!.headers?.["hush-signature"]).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ action: "auth", result: "denied", reason: "malformed", target: "kv", corr_id: c.corrId });
  });

  test("a good signed request is routed and its answer signed with the requester's key", async () => {
    const run = pipeline("worker");
    const key = newKey();
    const put = neutral("PUT", "/v1/kv/neutral", { key, body: '{"value":{"n":1},"ttl_ms":60000}' });
    const a = (await run(put.req)).answer!;
    expect(a.status).toBe(200);
    expect(a.headers!["hush-signature"]).toBe(signResponse(key.macKey, put.signature, 200, a.body));
    expect(Number(a.headers!["hush-rekey-after"])).toBe(key.expiresAt - Math.floor(key.ttlMs / 2));
    const get = neutral("GET", "/v1/kv/neutral", { key });
    const g = (await run(get.req)).answer!;
    expect(JSON.parse(g.body).value).toEqual({ n: 1 });
    expect(g.headers!["hush-signature"]).toBe(signResponse(key.macKey, get.signature, 200, g.body));
  });

  test("the rate stage refuses past the key's burst: signed, Retry-After, no Hush-Rekey-After, audited", async () => {
    const run = pipeline("worker");
    const key = newKey();
    for (let i = 0; i < 3; i++) expect((await run(neutral("GET", "/v1/whoami", { key }).req)).answer!.status).toBe(200);
    const over = neutral("GET", "/v1/whoami", { key });
    const c = await run(over.req);
    const a = c.answer!;
    expect(a.status).toBe(429);
    expect(JSON.parse(a.body).error).toBe("rate_limited");
    expect(Number(a.headers!["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(a.headers!["hush-signature"]).toBe(signResponse(key.macKey, over.signature, 429, a.body));
    expect(a.headers!["hush-rekey-after"]).toBeUndefined();
    expect(c.routed).toBe(false);
    expect(events.at(-1)).toMatchObject({ actor: key.id, action: "rate_limit", reason: "rate_limited", corr_id: c.corrId });
  });

  test("a route that throws: a bug is a signed 500 with its stack in the log; an async HushError keeps its code", async () => {
    const extra: Route[] = [
      { method: "GET", path: "/v1/whoami/boom", role: "self", handler: () => { throw new Error("boom in a handler"); } },
      { method: "GET", path: "/v1/whoami/later", role: "self", handler: async () => { await Bun.sleep(1); throw new HushError("conflict", "refused later"); } },
    ];
    const run = pipeline("worker", { routes: [...ROUTES, ...extra] });
    const key = newKey();
    const boom = neutral("GET", "/v1/whoami/boom", { key });
    const c = await run(boom.req);
    expect(c.answer!.status).toBe(500);
    expect(JSON.parse(c.answer!.body)).toEqual({ error: "internal", message: "internal error", corr_id: c.corrId });
    expect(c.answer!.headers!["hush-signature"]).toBe(signResponse(key.macKey, boom.signature, 500, c.answer!.body));
    const line = logs.filter((l) => l.includes(c.corrId)).at(-1)!;
    expect(line).toContain('"msg":"internal error"');
    expect(line).toContain("boom in a handler");
    const later = neutral("GET", "/v1/whoami/later", { key });
    const l = (await run(later.req)).answer!;
    expect([l.status, JSON.parse(l.body).error]).toEqual([409, "conflict"]);
    expect(l.headers!["hush-signature"]).toBe(signResponse(key.macKey, later.signature, 409, l.body));
    expect(d.state.inFlight).toBe(0);
  });

  test("an async handler is awaited and its answer signed; a request that waits for nothing is answered synchronously", async () => {
    const slow: Route = { method: "GET", path: "/v1/whoami/slow", role: "self", handler: async (c) => { await Bun.sleep(2); return { status: 200, body: `{"id":"${c.key!.id}"}` }; } };
    const p = createPipeline(d.state, "worker", { routes: [...ROUTES, slow] });
    const key = newKey();
    const s = neutral("GET", "/v1/whoami/slow", { key });
    const c = p.start(s.req);
    const pending = p.run(c);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(JSON.parse(c.answer!.body)).toEqual({ id: key.id });
    expect(c.answer!.headers!["hush-signature"]).toBe(signResponse(key.macKey, s.signature, 200, c.answer!.body));
    // The in-memory store answers at once: no promise, no microtask on the hot path.
    const now = p.start(neutral("GET", "/v1/whoami", { key }).req);
    expect(p.run(now)).toBeUndefined();
    expect(now.answer!.status).toBe(200);
  });

  test("a join over its source's rate (TCP peer) is refused unsigned, with a lower-case retry-after like every neutral header", async () => {
    const run = pipeline("tcp");
    let c;
    // Drain this source's bucket (the global one is far larger), then one more.
    for (let i = 0; i < 1000; i++) {
      c = await run({ ...neutral("POST", "/v1/join", { listener: "tcp", body: "{}" }).req, peer: "192.0.2.7" });
      if (c.answer!.status === 429) break;
    }
    expect([c!.answer!.status, JSON.parse(c!.answer!.body).error]).toEqual([429, "rate_limited"]);
    expect(Object.keys(c!.answer!.headers!)).toEqual(["retry-after"]);
    expect(events.at(-1)).toMatchObject({ actor: "192.0.2.7", action: "join", reason: "rate_limited" });
  });

  test("the admin listener refuses the worker, join and rekey routes and signs nothing", async () => {
    const run = pipeline("admin");
    for (const [method, path] of [["GET", "/v1/kv/a"], ["POST", "/v1/join"], ["POST", "/v1/rekey"], ["GET", "/v1/whoami"], ["POST", "/v1/locks/l"]]) {
      const a = (await run(neutral(method, path, { listener: "admin" }).req)).answer!;
      expect([a.status, JSON.parse(a.body).message]).toEqual([404, "no such route on the admin socket"]);
    }
    const stats = await run(neutral("GET", "/v1/admin/stats", { listener: "admin" }).req);
    expect(stats.answer!.status).toBe(200);
    expect(stats.actor).toBe("admin-socket");
    expect(stats.answer!.headers?.["hush-signature"]).toBeUndefined();
    const metrics = (await run(neutral("GET", "/metrics", { listener: "admin" }).req)).answer!;
    expect([metrics.status, metrics.kind]).toEqual([200, "text"]);
  });
});

describe("the route table", () => {
  test("every row has a metrics label of its own, and a path+method is listed once", () => {
    for (const r of ROUTES) expect([r.path, routeLabel(r.path.replace(/:[a-z]+/g, "x").split("/"))]).not.toEqual([r.path, "unknown"]);
    const dup: Route = { ...ROUTES.find((r) => r.path === "/v1/kv/:key")!, path: "/v1/kv/:other" };
    expect(() => compileRoutes([...ROUTES, dup], ["worker"])).toThrow("listed twice");
  });
});

describe("HTTP adds nothing to the answer", () => {
  async function both(method: string, target: string, body?: string) {
    const key = newKey();
    const s = signRequest(key.macKey, key.id, { method, target, body });
    const headers = { authorization: s.authorization, "x-request-id": "same-request" };
    const res = await fetch("http://localhost" + target, { method, body, headers, unix: d.socketPath } as RequestInit);
    const http = { status: res.status, body: await res.text(), sig: res.headers.get("hush-signature"), rekeyAfter: res.headers.get("hush-rekey-after") };
    // The same signed bytes again, directly: forget the nonce so the replay check lets it through.
    d.state.verifier.nonces.clear();
    const req: NeutralRequest = { method, target, authorization: s.authorization, requestId: "same-request", contentType: null, body: utf8(body ?? ""), listener: "worker", peer: "unix" };
    const a = (await pipeline("worker")(req)).answer!;
    const direct = { status: a.status, body: a.body, sig: a.headers?.["hush-signature"] ?? null, rekeyAfter: a.headers?.["hush-rekey-after"] ?? null };
    expect(http.sig).toBe(signResponse(key.macKey, s.signature, http.status, http.body));
    return { http, direct };
  }

  test("a signed success: byte-identical body and signature", async () => {
    await both("PUT", "/v1/kv/both", '{"value":"same","ttl_ms":600000}');
    const { http, direct } = await both("GET", "/v1/kv/both");
    expect(http.status).toBe(200);
    expect(direct).toEqual(http);
  });

  test("a signed error: the same body but for the daemon's own corr_id (never the client's X-Request-Id)", async () => {
    const { http, direct } = await both("GET", "/v1/kv/none-such");
    expect(http.status).toBe(404);
    const corr = (body: string) => JSON.parse(body).corr_id as string;
    expect([corr(http.body), corr(direct.body)].map((c) => /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/.test(c))).toEqual([true, true]);
    expect(corr(http.body)).not.toBe(corr(direct.body));
    const same = (a: typeof http) => ({ ...a, body: a.body.replace(corr(a.body), "CORR"), sig: null });
    expect(same(direct)).toEqual(same(http));
  });
});
