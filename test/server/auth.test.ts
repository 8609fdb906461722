/**
 * Authentication through the real daemon (in-process, real unix sockets):
 * every route except health/ready is signed, failures are a generic
 * auth_failed with the precise reason in logs and metrics only, responses
 * carry a correct Hush-Signature, and the SDK refuses answers it cannot verify.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client, HushError } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { encodeCredential, formatKeyId } from "../../src/keys/index.ts";
import { randomBytes } from "../../src/crypto/index.ts";
import { encodeAnswer, decodeRequest } from "../../src/wire/frame.ts";
import { closeRaw, rawSend, TRANSPORTS, type TransportName } from "../_transport.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
let logs: string[] = [];
let cred: string;
let rec: ReturnType<Daemon["state"]["registry"]["create"]>;

beforeAll(async () => {
  dir = tempDir("hush-auth-");
  // Every failure written at once and none refused for its source: these tests read each reason from the log (test/server/failures.test.ts covers both).
  d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), failures: { ...DEFAULTS.failures, intervalMs: 0, rate: 0 } }, { version: "test", log: new Logger({ format: "json", write: (l) => logs.push(l) }) });
  rec = d.state.registry.create({ kind: "worker", name: "t", via: "issue" });
  cred = encodeCredential({ kind: "worker", keyId: rec.id, macKey: rec.macKey, encKey: rec.encKey, serverPublic: d.state.serverKeys.active.publicKey });
});
afterAll(async () => {
  closeRaw();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(TRANSPORTS)("signed requests over %s", (kind) => {
  async function send(method: string, target: string, authorization?: string, body?: string) {
    const r = await rawSend(kind, d.socketPath, method, target, { authorization, body });
    return { status: r.status, sig: r.header("hush-signature"), text: r.text };
  }

  test("a good request is answered with a correct response signature", async () => {
    const body = JSON.stringify({ value: "v", ttl_ms: 60000 });
    const s = signRequest(rec.macKey, rec.id, { method: "PUT", target: "/v1/kv/a", body });
    const r = await send("PUT", "/v1/kv/a", s.authorization, body);
    expect(r.status).toBe(200);
    expect(r.sig).toBe(signResponse(rec.macKey, s.signature, 200, r.text));
  });
  test("error answers to authenticated requests are signed too", async () => {
    const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/kv/none" });
    const r = await send("GET", "/v1/kv/none", s.authorization);
    expect(r.status).toBe(404);
    expect(r.sig).toBe(signResponse(rec.macKey, s.signature, 404, r.text));
  });
  const failures: [string, () => [string, string, string | undefined, string | undefined], string][] = [
    ["tampered method", () => { const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/kv/a" }); return ["DELETE", "/v1/kv/a", s.authorization, undefined]; }, "bad_signature"],
    ["tampered target", () => { const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/kv/a" }); return ["GET", "/v1/kv/b", s.authorization, undefined]; }, "bad_signature"],
    ["tampered body", () => { const s = signRequest(rec.macKey, rec.id, { method: "PUT", target: "/v1/kv/a", body: '{"value":1,"ttl_ms":1000}' }); return ["PUT", "/v1/kv/a", s.authorization, '{"value":2,"ttl_ms":1000}']; }, "bad_signature"],
    ["stale timestamp", () => { const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/whoami" }, { now: Date.now() - 61_000 }); return ["GET", "/v1/whoami", s.authorization, undefined]; }, "stale_timestamp"],
    ["future timestamp", () => { const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/whoami" }, { now: Date.now() + 61_000 }); return ["GET", "/v1/whoami", s.authorization, undefined]; }, "stale_timestamp"],
    ["unknown key", () => { const s = signRequest(rec.macKey, formatKeyId("worker", randomBytes(12)), { method: "GET", target: "/v1/whoami" }); return ["GET", "/v1/whoami", s.authorization, undefined]; }, "unknown_key"],
    ["wrong key", () => { const s = signRequest(randomBytes(32), rec.id, { method: "GET", target: "/v1/whoami" }); return ["GET", "/v1/whoami", s.authorization, undefined]; }, "bad_signature"],
    ["no header", () => ["GET", "/v1/whoami", undefined, undefined], "malformed"],
  ];
  test.each(failures)("%s → 401 auth_failed, reason only in logs and metrics", async (_n, make, reason) => {
    const before = d.state.metrics.render();
    const [m, t, a, b] = make();
    const r = await send(m, t, a, b);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.text)).toMatchObject({ error: "auth_failed", message: "authentication failed" });
    expect(r.text).not.toContain(reason);
    expect(r.sig).toBeNull();
    expect(logs.at(-1)).toContain(`"reason":"${reason}"`);
    const count = (s: string) => Number(new RegExp(`hush_auth_failures_total\\{reason="${reason}"\\} (\\d+)`).exec(s)?.[1] ?? 0);
    expect(count(d.state.metrics.render())).toBe(count(before) + 1);
  });
  test("a replayed request is refused", async () => {
    const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/whoami" });
    expect((await send("GET", "/v1/whoami", s.authorization)).status).toBe(200);
    expect((await send("GET", "/v1/whoami", s.authorization)).status).toBe(401);
    expect(logs.at(-1)).toContain('"reason":"replayed_nonce"');
  });
  test("revocation and expiry take effect on the next request", async () => {
    const r2 = d.state.registry.create({ kind: "worker", name: "short", via: "issue", ttlMs: 1 });
    await Bun.sleep(5);
    const s = signRequest(r2.macKey, r2.id, { method: "GET", target: "/v1/whoami" });
    expect((await send("GET", "/v1/whoami", s.authorization)).status).toBe(401);
    expect(logs.at(-1)).toContain('"reason":"expired_key"');
    const r3 = d.state.registry.create({ kind: "worker", name: "rev", via: "issue" });
    const mac = r3.macKey.slice();
    expect((await send("GET", "/v1/whoami", signRequest(mac, r3.id, { method: "GET", target: "/v1/whoami" }).authorization)).status).toBe(200);
    d.state.registry.revoke(r3.id);
    expect((await send("GET", "/v1/whoami", signRequest(mac, r3.id, { method: "GET", target: "/v1/whoami" }).authorization)).status).toBe(401);
    expect(logs.at(-1)).toContain('"reason":"revoked"');
  });
  test("health and ready need no signature; nothing else does without one", async () => {
    expect((await send("GET", "/v1/health")).status).toBe(200);
    expect((await send("GET", "/v1/ready")).status).toBe(200);
    for (const [m, p] of [["GET", "/v1/whoami"], ["GET", "/v1/kv"], ["POST", "/v1/locks/x"], ["POST", "/v1/pools/x/lease"], ["GET", "/metrics"]]) {
      expect((await send(m, p)).status).toBe(401);
    }
  });
});

describe.each(TRANSPORTS)("SDK over %s", (kind: TransportName) => {
  test("round trip with the real daemon", async () => {
    const c = new Client({ socket: d.socketPath, credential: cred, transport: kind });
    await c.set("sdk", [1, "two"], { ttlMs: 60000 });
    expect(await c.get("sdk")).toEqual([1, "two"]);
    expect(await c.incr(`cnt-${kind}`, 5, { ttlMs: 60000 })).toBe(5);
    const lock = await c.lock(`l-${kind}`, { ttlMs: 1000 });
    await expect(c.lock(`l-${kind}`, { ttlMs: 1000 })).rejects.toMatchObject({ code: "conflict" });
    await lock.release();
    const e: any = await c.get("missing").catch((x) => x);
    expect(e).toBeInstanceOf(HushError);
    expect(e.code).toBe("not_found");
    c.close();
  });
  test("refuses an answer with a wrong or missing signature (a lying server)", async () => {
    // An impostor on its own socket: it cannot know the mac key, so it cannot sign.
    const sock = join(dir, `impostor-${kind}.sock`);
    let mode: "wrong" | "none" = "wrong";
    const body = '{"value":"attacker-controlled","expires_at":null}';
    const headers = (): Record<string, string> => (mode === "wrong" ? { "hush-signature": "A".repeat(43) } : {});
    const srv = Bun.serve({
      unix: sock,
      fetch: (req, server) => (server.upgrade(req, { data: undefined }) ? undefined : new Response(body, { headers: headers() })),
      websocket: {
        message(ws, m) {
          const f = decodeRequest(m as Buffer);
          if (f.ok) ws.send(encodeAnswer(f.frame.id, 200, headers(), body));
        },
      },
    });
    const c = new Client({ socket: sock, credential: cred, retries: 0, transport: kind });
    await expect(c.get("x")).rejects.toMatchObject({ code: "auth_failed" });
    mode = "none";
    await expect(c.get("x")).rejects.toMatchObject({ code: "auth_failed" });
    srv.stop(true);
  });
});
