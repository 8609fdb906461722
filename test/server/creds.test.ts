/**
 * Sealed checkout through the real daemon (PROTOCOL.md §7): the value opens
 * only with the worker's enc key and that request's signature as AAD;
 * policy denials and fail-closed audit behave as documented.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { mintCredential } from "../../src/server/routes-admin.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client, openSealed } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { randomBytes, utf8 } from "../../src/crypto/index.ts";
import type { AuditEvent } from "../../src/server/state.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
const events: AuditEvent[] = [];
const sink = { healthy: true, record: (e: AuditEvent) => void events.push(e) };
const SECRET = "s3cr3t-" + crypto.randomUUID();

beforeAll(async () => {
  dir = tempDir("hush-creds-");
  d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "s", "hush.sock") }, { version: "t", log: new Logger({ write: () => {} }), audit: sink });
  d.state.creds.put("db", [utf8(SECRET)], { allow: ["ci"] });
});
afterAll(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

function worker(tags: string[]) {
  const rec = d.state.registry.create({ kind: "worker", name: "w", tags, via: "issue" });
  return { rec, client: new Client({ socket: d.socketPath, credential: mintCredential(d.state, rec) }) };
}

async function rawCheckout(rec: { id: string; macKey: Uint8Array }) {
  const body = "{}";
  const s = signRequest(rec.macKey, rec.id, { method: "POST", target: "/v1/creds/db/checkout", body });
  const res = await fetch("http://localhost/v1/creds/db/checkout", { method: "POST", body, headers: { authorization: s.authorization }, unix: d.socketPath } as RequestInit);
  return { status: res.status, json: (await res.json()) as any, signature: s.signature };
}

describe("sealed checkout", () => {
  test("the SDK opens the value; the wire never carries it in clear", async () => {
    const { rec, client } = worker(["ci"]);
    const co = await client.checkout("db");
    expect(co.value).toBe(SECRET);
    const raw = await rawCheckout(rec);
    expect(raw.status).toBe(200);
    expect(JSON.stringify(raw.json)).not.toContain(SECRET);
    expect(JSON.stringify(raw.json)).not.toContain(Buffer.from(SECRET).toString("base64").slice(0, 12));
  });
  test("opens only with the worker's enc key and this request's signature", async () => {
    const { rec } = worker(["ci"]);
    const r = await rawCheckout(rec);
    expect(openSealed(rec.encKey, r.signature, r.json.sealed).value).toBe(SECRET);
    expect(() => openSealed(randomBytes(32), r.signature, r.json.sealed)).toThrow(expect.objectContaining({ code: "auth_failed" }));
    expect(() => openSealed(rec.macKey, r.signature, r.json.sealed)).toThrow();
    const other = await rawCheckout(rec);
    expect(() => openSealed(rec.encKey, other.signature, r.json.sealed)).toThrow(); // AAD binds it to its request
    const otherWorker = worker(["ci"]).rec;
    expect(() => openSealed(otherWorker.encKey, r.signature, r.json.sealed)).toThrow();
  });
  test("a worker without an allowed tag is refused (forbidden) and the denial is audited", async () => {
    const { client, rec } = worker(["web"]);
    await expect(client.checkout("db")).rejects.toMatchObject({ code: "forbidden" });
    expect(events.at(-1)).toMatchObject({ actor: rec.id, action: "cred.checkout", target: "db", result: "denied" });
  });
});

describe("review fixes", () => {
  test("a checkout signed with the previous key during a rekey's grace period is sealed to the previous enc key", async () => {
    const { rec } = worker(["ci"]);
    const oldMac = rec.macKey.slice();
    const oldEnc = rec.encKey.slice();
    d.state.registry.rekey(rec, { macKey: randomBytes(32), encKey: randomBytes(32), serverPublic: d.state.serverKeys.active.publicKey, expiresAt: rec.expiresAt });
    d.state.registry.confirm(rec, 10_000);
    const r = await rawCheckout({ id: rec.id, macKey: oldMac });
    expect(r.status).toBe(200);
    expect(openSealed(oldEnc, r.signature, r.json.sealed).value).toBe(SECRET);
  });
  test("the audit line of a checkout carries the value's HMAC, the form `hush audit hash` prints", async () => {
    const { client, rec } = worker(["ci"]);
    await client.checkout("db");
    const ev = events.filter((e) => e.actor === rec.id && e.action === "cred.checkout").at(-1)!;
    const { auditHash } = await import("../../src/audit/index.ts");
    expect(ev.value_hash).toBe(auditHash(SECRET, d.state.auditHmacKey));
    const r = await fetch("http://localhost/v1/admin/audit/hash", { method: "POST", body: JSON.stringify({ value: SECRET }), unix: d.adminSocketPath } as RequestInit);
    expect((await r.json()).hash).toBe(ev.value_hash);
    expect(JSON.stringify(events)).not.toContain(SECRET);
  });
});

describe("fail closed when the audit sink cannot write", () => {
  test("a join is refused too (it would mint a credential unrecorded)", async () => {
    const t = d.state.tokens.create({}, d.state.serverKeys.active.id);
    const { encodeJoinToken } = await import("../../src/keys/index.ts");
    const { joinWithToken, createUnixTransport } = await import("../../src/client/index.ts");
    const token = encodeJoinToken({ tokenId: t.id, psk: t.psk, serverPublic: d.state.serverKeys.active.publicKey });
    sink.healthy = false;
    try {
      await expect(joinWithToken(createUnixTransport(d.socketPath, { retries: 0 }), token, "x")).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      sink.healthy = true;
    }
    expect((await joinWithToken(createUnixTransport(d.socketPath), token, "x")).id).toStartWith("w_");
  });
  test("checkout → unavailable and ready → 503, then both recover", async () => {
    const { client } = worker(["ci"]);
    sink.healthy = false;
    try {
      await expect(client.checkout("db")).rejects.toMatchObject({ code: "unavailable" });
      const ready = await fetch("http://localhost/v1/ready", { unix: d.socketPath } as RequestInit);
      expect(ready.status).toBe(503);
      // Reads of non-secret coordination state keep working.
      expect(await client.incr("n", 1, { ttlMs: 1000 })).toBe(1);
    } finally {
      sink.healthy = true;
    }
    expect((await client.checkout("db")).value).toBe(SECRET);
    expect((await fetch("http://localhost/v1/ready", { unix: d.socketPath } as RequestInit)).status).toBe(200);
  });
});
