/**
 * Invariant 8: bad input gets a clear, documented error, changes nothing,
 * and the daemon stays up. A corpus of malformed and hostile requests is
 * sent to the compiled daemon; after each one the store must be unchanged.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { ERROR_CODES } from "../../src/errors.ts";
import { STATUS } from "../../src/server/http.ts";
import { rawRequest, startDaemon, type Daemon } from "./_harness.ts";

let d: Daemon;
let cred: ReturnType<typeof decodeCredential>;
let snapshot: string;

function signed(method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) {
  const url = new URL(path, "http://localhost");
  const s = signRequest(cred.macKey, cred.keyId, { method, target: url.pathname + url.search, body });
  return rawRequest(d.socket, method, path, { body, headers: { authorization: s.authorization, ...headers } });
}

async function state(): Promise<string> {
  const list = await signed("GET", "/v1/kv?prefix=");
  const keep = await signed("GET", "/v1/kv/keep");
  const stats = await rawRequest(d.admin, "GET", "/v1/admin/stats");
  return JSON.stringify([list.json, keep.json?.value, stats.json.store]);
}

beforeAll(async () => {
  d = await startDaemon();
  cred = decodeCredential(await d.issue("fuzz"));
  expect((await signed("PUT", "/v1/kv/keep", JSON.stringify({ value: { a: [1, 2, 3] }, ttl_ms: 600000 }))).status).toBe(200);
  expect((await signed("POST", "/v1/locks/held", JSON.stringify({ ttl_ms: 600000 }))).status).toBe(200);
  snapshot = await state();
});
afterAll(() => d.cleanup());

type Case = [name: string, send: () => Promise<{ status: number; json?: any }>, code: (typeof ERROR_CODES)[number]];
const big = "x".repeat(2 * 1024 * 1024);

const cases: Case[] = [
  ["unknown route outside /v1", () => rawRequest(d.socket, "GET", "/nope"), "not_found"],
  ["no Authorization", () => rawRequest(d.socket, "GET", "/v1/kv/keep"), "auth_failed"],
  ["garbage Authorization", () => rawRequest(d.socket, "GET", "/v1/kv/keep", { headers: { authorization: "HUSH1-HMAC-SHA256 x" } }), "auth_failed"],
  ["Bearer token", () => rawRequest(d.socket, "GET", "/v1/kv/keep", { headers: { authorization: "Bearer abc" } }), "auth_failed"],
  ["signed unknown route", () => signed("GET", "/v1/nothing-here"), "not_found"],
  ["bad JSON", () => signed("PUT", "/v1/kv/keep", "{not json"), "invalid_request"],
  ["JSON array body", () => signed("PUT", "/v1/kv/keep", "[1,2]"), "invalid_request"],
  ["JSON null body", () => signed("PUT", "/v1/kv/keep", "null"), "invalid_request"],
  ["value missing", () => signed("PUT", "/v1/kv/keep", '{"ttl_ms":1000}'), "invalid_request"],
  ["ttl_ms as string", () => signed("PUT", "/v1/kv/keep", '{"value":1,"ttl_ms":"1000"}'), "invalid_ttl"],
  ["ttl_ms negative", () => signed("PUT", "/v1/kv/keep", '{"value":1,"ttl_ms":-5}'), "invalid_ttl"],
  ["ttl_ms fractional", () => signed("PUT", "/v1/kv/keep", '{"value":1,"ttl_ms":1.5}'), "invalid_ttl"],
  ["ttl missing on a new key", () => signed("PUT", "/v1/kv/new-key", '{"value":1}'), "ttl_required"],
  ["incr by a string", () => signed("POST", "/v1/kv/keep/incr", '{"by":"1"}'), "invalid_request"],
  ["incr a non-number", () => signed("POST", "/v1/kv/keep/incr", '{"by":1}'), "invalid_request"],
  ["lock token wrong type", () => signed("POST", "/v1/locks/held/release", '{"token":"1"}'), "invalid_request"],
  ["lock renew wrong token", () => signed("POST", "/v1/locks/held/renew", '{"token":999999}'), "conflict"],
  ["ttl_ms zero", () => signed("PUT", "/v1/kv/keep", '{"value":1,"ttl_ms":0}'), "invalid_ttl"],
  ["if_absent not a boolean", () => signed("PUT", "/v1/kv/keep", '{"value":1,"if_absent":"yes"}'), "invalid_request"],
  ["claim without ttl_ms", () => signed("POST", "/v1/kv/new-key/claim", "{}"), "ttl_required"],
  ["ttl of a missing key", () => signed("GET", "/v1/kv/new-key/ttl"), "not_found"],
  ["pool one_per_holder without a holder", () => signed("POST", "/v1/pools/p/lease", '{"size":2,"ttl_ms":1000,"one_per_holder":true}'), "invalid_request"],
  ["lock already held", () => signed("POST", "/v1/locks/held", '{"ttl_ms":1000}'), "conflict"],
  ["pool size zero", () => signed("POST", "/v1/pools/p/lease", '{"size":0,"ttl_ms":1000}'), "invalid_request"],
  ["deep nesting", () => signed("PUT", "/v1/kv/keep", '{"value":' + "[".repeat(100) + "]".repeat(100) + ',"ttl_ms":1000}'), "invalid_request"],
  ["invalid UTF-8 body", () => signed("PUT", "/v1/kv/keep", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), "invalid_request"],
  ["body over 1 MiB", () => signed("PUT", "/v1/kv/keep", JSON.stringify({ value: big, ttl_ms: 1000 })), "too_large"],
  [
    "chunked body over 1 MiB (no Content-Length)",
    () =>
      rawRequest(d.socket, "PUT", "/v1/kv/keep", {
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 40; i++) c.enqueue(new TextEncoder().encode("x".repeat(64 * 1024)));
            c.close();
          },
        }) as any,
      }),
    "too_large",
  ],
  ["value over 256 KiB", () => signed("PUT", "/v1/kv/keep", JSON.stringify({ value: "v".repeat(300 * 1024), ttl_ms: 1000 })), "too_large"],
  ["key over 256 bytes", () => signed("PUT", `/v1/kv/${"k".repeat(257)}`, '{"value":1,"ttl_ms":1000}'), "too_large"],
  ["bad percent-encoding", () => signed("GET", "/v1/kv/%ZZ"), "invalid_request"],
  ["control character in key", () => signed("PUT", "/v1/kv/a%00b", '{"value":1,"ttl_ms":1000}'), "invalid_request"],
  ["wrong method", () => signed("PATCH", "/v1/kv/keep", '{"value":1}'), "invalid_request"],
  ["POST to a KV key", () => signed("POST", "/v1/kv/keep", '{"value":1}'), "invalid_request"],
  ["extra path segment", () => signed("GET", "/v1/kv/keep/extra/more"), "not_found"],
  ["admin route with a worker credential", () => signed("GET", "/v1/admin/stats"), "forbidden"],
  ["metrics with a worker credential", () => signed("GET", "/metrics"), "forbidden"],
  ["worker route on the admin socket", () => rawRequest(d.admin, "GET", "/v1/kv/keep"), "not_found"],
  ["admin: bad worker name", () => rawRequest(d.admin, "POST", "/v1/admin/workers", { body: '{"name":"a b"}' }), "invalid_request"],
  ["admin: revoke unknown id", () => rawRequest(d.admin, "POST", "/v1/admin/workers/w_nope/revoke"), "not_found"],
  ["admin: ttl too long", () => rawRequest(d.admin, "POST", "/v1/admin/workers", { body: '{"name":"a","ttl_ms":99999999999999}' }), "invalid_ttl"],
];

test.each(cases)("%s → documented error, store unchanged, daemon up", async (_name, send, code) => {
  const r = await send();
  expect(r.json?.error).toBe(code);
  expect(r.status).toBe(STATUS[code]);
  expect(typeof r.json.message).toBe("string");
  expect(typeof r.json.corr_id).toBe("string");
  expect(await state()).toBe(snapshot);
});

test("prototype-pollution names are ordinary keys and do not change other state", async () => {
  for (const k of ["__proto__", "constructor", "prototype", "hasOwnProperty"]) {
    expect((await signed("PUT", `/v1/kv/${k}`, JSON.stringify({ value: { polluted: true }, ttl_ms: 60000 }))).status).toBe(200);
    expect((await signed("GET", `/v1/kv/${k}`)).json.value).toEqual({ polluted: true });
    expect((await signed("DELETE", `/v1/kv/${k}`)).json.deleted).toBe(true);
  }
  const r = await signed("PUT", "/v1/kv/obj", '{"__proto__":{"admin":true},"value":{"__proto__":{"x":1}},"ttl_ms":60000}');
  expect(r.status).toBe(200);
  expect((await signed("GET", "/v1/kv/obj")).json.value).toEqual(JSON.parse('{"__proto__":{"x":1}}'));
  await signed("DELETE", "/v1/kv/obj");
  expect(({} as any).admin).toBeUndefined();
  expect(await state()).toBe(snapshot);
});

test("raw garbage, truncated HTTP and huge headers do not take the daemon down", async () => {
  const send = (bytes: string | Uint8Array) =>
    new Promise<string>((resolve) => {
      const s = connect({ path: d.socket });
      let out = "";
      s.on("data", (c) => (out += c.toString("latin1")));
      s.on("close", () => resolve(out));
      s.on("error", () => resolve(out));
      s.write(bytes);
      setTimeout(() => s.end(), 100);
    });
  for (const payload of [
    new Uint8Array(Array.from({ length: 512 }, (_, i) => (i * 7919) % 256)),
    "GET /v1/health HTTP/1.1\r\nHost: x\r\n",
    "POST /v1/kv/keep HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"va",
    "GARBAGE\r\n\r\n",
    `GET /v1/health HTTP/1.1\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`,
  ]) {
    await send(payload);
    expect((await rawRequest(d.socket, "GET", "/v1/health")).status).toBe(200);
  }
  const huge = await rawRequest(d.socket, "GET", "/v1/health", { headers: { "x-big": "a".repeat(20 * 1024) } }).catch(() => ({ status: 0 }));
  expect([0, 431]).toContain(huge.status);
  expect(await state()).toBe(snapshot);
});
