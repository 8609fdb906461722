/**
 * Every secret the daemon registers with the log masker leaves it when its
 * object ends, and not before (issue 10, item 1.2): worker keys (issue,
 * join, rekey, revoke, clone lock, expiry), join tokens (create, revoke,
 * rotate, last use, expiry, server key retirement), server keys (prepare,
 * activate, retire) and credential values (put, replace, delete). Through
 * the real daemon in-process, over its real sockets.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { AdminClient, Client, createUnixTransport, joinWithToken } from "../../src/client/index.ts";
import { Logger, type Masker } from "../../src/observe/index.ts";
import { decodeJoinToken } from "../../src/keys/index.ts";
import { toHex } from "../../src/crypto/index.ts";
import { waitFor } from "../e2e/_harness.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
let admin: AdminClient;
let masker: Masker;

beforeAll(async () => {
  dir = tempDir("hush-masking-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), sweepIntervalMs: 25, rekeyGraceMs: 300 },
    { version: "test", log: new Logger({ format: "json", write: () => {} }) },
  );
  admin = new AdminClient({ socket: d.socketPath, retries: 0 });
  masker = d.state.masker;
});
afterAll(async () => {
  admin?.close();
  await d?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Whether the masker would hide `secret` now. */
const masked = (secret: string) => masker.mask(`<${secret}>`) === "<***>";

test("a worker credential: masked from issue until revoke", async () => {
  const w = await admin.call("POST", "/v1/admin/workers", { name: "m1" });
  expect(masked(w.credential)).toBe(true);
  await admin.call("POST", `/v1/admin/workers/${w.id}/revoke`);
  expect(masked(w.credential)).toBe(false);
});

test("a worker credential leaves the masker when the key expires", async () => {
  const w = await admin.call("POST", "/v1/admin/workers", { name: "m2", ttl_ms: 150 });
  expect(masked(w.credential)).toBe(true);
  await waitFor(() => !masked(w.credential), 5000, "the expired credential to leave the masker");
});

test("join tokens: string and PSK masked; revoke, rotation, last use and expiry end them", async () => {
  const a = await admin.call("POST", "/v1/admin/tokens", { uses: 1 });
  const psk = toHex(decodeJoinToken(a.token).psk);
  expect(masked(a.token) && masked(psk)).toBe(true);
  // The last use ends the token; the joined worker's credential is masked instead.
  const j = await joinWithToken(createUnixTransport(d.socketPath, { retries: 0 }), a.token, "joined");
  expect(masked(a.token) || masked(psk)).toBe(false);
  expect(masked(j.credential)).toBe(true);

  const b = await admin.call("POST", "/v1/admin/tokens", { uses: 3 });
  await admin.call("POST", `/v1/admin/tokens/${b.id}/revoke`);
  expect(masked(b.token)).toBe(false);

  const c = await admin.call("POST", "/v1/admin/tokens", { uses: 3 });
  const r = await admin.call("POST", `/v1/admin/tokens/${c.id}/rotate`);
  expect(masked(c.token)).toBe(false);
  expect(masked(r.token)).toBe(true);

  const e = await admin.call("POST", "/v1/admin/tokens", { ttl_ms: 150 });
  expect(masked(e.token)).toBe(true);
  await waitFor(() => !masked(e.token), 5000, "the expired token to leave the masker");
});

test("rekey: the old credential stays masked through its grace period, then leaves; a clone lock ends both", async () => {
  const t = await admin.call("POST", "/v1/admin/tokens", {});
  const j = await joinWithToken(createUnixTransport(d.socketPath, { retries: 0 }), t.token, "rekeyer");
  const c = new Client({ socket: d.socketPath, credential: j.credential, autoRekey: false, retries: 0 });
  const old = c.credential;
  await c.rekey();
  const now = c.credential;
  expect(masked(old) && masked(now)).toBe(true);
  await waitFor(() => !masked(old), 5000, "the rotated-away credential to leave the masker after the grace period");
  expect(masked(now)).toBe(true);
  // The old key rekeying again is a copied credential: the worker is locked and nothing of it stays.
  const clone = new Client({ socket: d.socketPath, credential: old, autoRekey: false, retries: 0 });
  await expect(clone.rekey()).rejects.toThrow();
  expect(masked(now)).toBe(false);
  c.close?.();
  clone.close?.();
});

test("server keys: the previous key stays masked while usable; retire ends it and its tokens", async () => {
  const secretOf = (state: "active" | "next" | "previous") => {
    const id = d.state.serverKeys.list().find((k) => k.state === state)!.id;
    return toHex(d.state.serverKeys.byId(id)!.secretKey);
  };
  const first = secretOf("active");
  expect(masked(first)).toBe(true);
  const tok = await admin.call("POST", "/v1/admin/tokens", { uses: 5 });
  await admin.call("POST", "/v1/admin/server-key/prepare");
  const second = secretOf("next");
  expect(masked(second)).toBe(true);
  await admin.call("POST", "/v1/admin/server-key/activate");
  expect(masked(first) && masked(second) && masked(tok.token)).toBe(true);
  await admin.call("POST", "/v1/admin/server-key/retire");
  expect(masked(first)).toBe(false); // retired and wiped: it can no longer be used
  expect(masked(tok.token)).toBe(false);
  expect(masked(second)).toBe(true);
});

test("credential values: masked from put; a replacing put and delete end them; a refused put registers nothing", async () => {
  const before = masker.size;
  await admin.call("POST", "/v1/admin/creds", { name: "db", value: "first-db-password" });
  expect(masked("first-db-password")).toBe(true);
  await admin.call("POST", "/v1/admin/creds", { name: "db", value: "second-db-password" });
  expect(masked("first-db-password")).toBe(false);
  expect(masked("second-db-password")).toBe(true);
  await admin.call("DELETE", "/v1/admin/creds/db");
  expect(masked("second-db-password")).toBe(false);
  await expect(admin.call("POST", "/v1/admin/creds", { name: "pool", mode: "exclusive", values: ["pool-value-one", ""] })).rejects.toThrow();
  expect(masked("pool-value-one")).toBe(false);
  expect(masker.size).toBe(before);
});
