/**
 * PROTOCOL.md §1 "Errors": a method a route does not support is
 * `400 invalid_request` (there is no 405), and a path that is no route is
 * `404 not_found`, whatever the area, the method or the body — on
 * hush.sock (signed, worker and admin keys) and on admin.sock.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { rawRequest, startDaemon, type Daemon } from "./_harness.ts";

let d: Daemon;
let worker: ReturnType<typeof decodeCredential>;
let admin: ReturnType<typeof decodeCredential>;

beforeAll(async () => {
  d = await startDaemon();
  worker = decodeCredential(await d.issue("routes"));
  admin = decodeCredential((await rawRequest(d.admin, "POST", "/v1/admin/admins", { body: '{"name":"routes-admin"}' })).json.credential);
});
afterAll(() => d.cleanup());

type Who = "worker" | "admin key" | "admin.sock";

function send(who: Who, method: string, path: string, b: string | null) {
  const body = b ?? undefined;
  if (who === "admin.sock") return rawRequest(d.admin, method, path, { body });
  const k = who === "worker" ? worker : admin;
  const s = signRequest(k.macKey, k.keyId, { method, target: path, body });
  return rawRequest(d.socket, method, path, { body, headers: { authorization: s.authorization } });
}

const wrongMethod: [Who, string, string, string | null][] = [
  ["worker", "GET", "/v1/rekey", null],
  ["worker", "GET", "/v1/locks/l", null],
  ["worker", "GET", "/v1/locks/l/renew", null],
  ["worker", "GET", "/v1/pools/p/lease", null],
  ["worker", "GET", "/v1/creds/db/checkout", null],
  ["worker", "PUT", "/v1/creds/leases/l_x/return", "{}"],
  ["worker", "POST", "/v1/kv/%zz", "{}"],
  ["admin.sock", "DELETE", "/v1/admin/workers", null],
  ["admin.sock", "GET", "/v1/admin/workers/w_x/revoke", null],
  ["admin.sock", "POST", "/v1/admin/stats", "{}"],
  ["admin.sock", "PUT", "/v1/admin/audit", "{}"],
  ["admin.sock", "GET", "/v1/admin/audit/hash", null],
  ["admin.sock", "GET", "/v1/admin/server-key/prepare", null],
  ["admin.sock", "DELETE", "/v1/admin/tokens", null],
  ["admin.sock", "PUT", "/v1/admin/creds/x", "{}"],
  ["admin.sock", "DELETE", "/v1/admin/admins", null],
  ["admin key", "POST", "/metrics", "{}"],
  ["admin key", "PUT", "/v1/admin/workers", "{}"],
];

const noRoute: [Who, string, string, string | null][] = [
  ["worker", "GET", "/v1/locks", null],
  ["worker", "GET", "/v1/locks/a/b/c", null],
  ["worker", "POST", "/v1/locks/l/bogus", "{not json"],
  ["worker", "GET", "/v1/pools/p", null],
  ["worker", "POST", "/v1/pools/p/bogus", "{not json"],
  ["worker", "PUT", "/v1/creds/x", "{}"],
  ["worker", "GET", "/v1/kv/%zz/x", null],
  ["worker", "POST", "/v1/rekey/x", "{}"],
  ["admin.sock", "POST", "/v1/admin/workers/w_x/bogus", null],
  ["admin.sock", "GET", "/v1/admin/nothing", null],
  ["admin key", "GET", "/v1/admin/stats/x", null],
];

test.each(wrongMethod)("%s %s %s → 400 invalid_request (method not allowed)", async (who, method, path, body) => {
  const r = await send(who, method, path, body);
  expect([r.status, r.json?.error, r.json?.message]).toEqual([400, "invalid_request", "method not allowed on this route"]);
  if (who !== "admin.sock") expect(r.headers.get("hush-signature")).not.toBeNull();
});

test.each(noRoute)("%s %s %s → 404 not_found", async (who, method, path, body) => {
  const r = await send(who, method, path, body);
  expect([r.status, r.json?.error]).toEqual([404, "not_found"]);
});
