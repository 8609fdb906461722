/**
 * Rekey with key confirmation (PROTOCOL.md §6), through the real daemon
 * (in-process, real unix sockets) and raw protocol messages: a rekey's new
 * key is pending until its first use; a retry with the old key gets a
 * fresh answer and the earlier pending key never becomes valid (its use is
 * a clone); a demanded rotation is completed only by a rekey made after the
 * demand, and leaves the old key no grace.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client, HushError } from "../../src/client/index.ts";
import { startHandshake } from "../../src/client/join.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential, encodeCredential, type Credential } from "../../src/keys/index.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
const logs: string[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  dir = tempDir("hush-rekey-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), rekeyGraceMs: 300 },
    { version: "test", log: new Logger({ format: "json", write: (l) => logs.push(l) }) },
  );
});
afterAll(async () => {
  for (const c of clients) c.close();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function issue(name: string): Promise<Credential> {
  const res = await fetch("http://localhost/v1/admin/workers", { method: "POST", body: JSON.stringify({ name }), unix: d.adminSocketPath } as RequestInit);
  return decodeCredential(((await res.json()) as any).credential);
}

/** POST /v1/rekey signed with `cred`; on 200, the credential message 2 gives. */
async function rawRekey(cred: Credential): Promise<{ status: number; next?: Credential }> {
  const hs = startHandshake(cred.serverPublic, cred.macKey, `hush/1 rekey\n${cred.keyId}`, { ts: Date.now() });
  const body = JSON.stringify({ msg: hs.msg });
  const s = signRequest(cred.macKey, cred.keyId, { method: "POST", target: "/v1/rekey", body });
  const res = await fetch("http://localhost/v1/rekey", { method: "POST", body, headers: { authorization: s.authorization }, unix: d.socketPath } as RequestInit);
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  const { macKey, encKey } = hs.finish(JSON.parse(text).msg);
  return { status: 200, next: { ...cred, macKey, encKey } };
}

/** A client that never rekeys by itself, signing with `cred`. */
function as(cred: Credential): Client {
  const c = new Client({ socket: d.socketPath, credential: encodeCredential(cred), autoRekey: false, retries: 0 });
  clients.push(c);
  return c;
}

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e) => (e instanceof HushError ? e.code : String(e)));
const info = (id: string) => d.state.registry.info(d.state.registry.get(id)!);
const logged = (from: number) => logs.slice(from).map((l) => JSON.parse(l));

describe("key confirmation", () => {
  test("a rekey's key is pending until its first use; a retry with the old key gets a fresh answer; the lost answer's key never becomes valid", async () => {
    const k0 = await issue("lost-answer");
    const r1 = await rawRekey(k0);
    expect(r1.status).toBe(200);
    expect(info(k0.keyId)).toMatchObject({ rekeys: 0, rekey_pending: true, status: "active" });
    // The old key is still the key in force, with no grace-period clock running.
    await Bun.sleep(350);
    expect(await codeOf(as(k0).set("lost/a", 1, { ttlMs: 60_000 }))).toBe("ok");
    // The answer was "lost": the retry, signed with the old key, is a rekey, not a clone.
    const from = logs.length;
    const r2 = await rawRekey(k0);
    expect(r2.status).toBe(200);
    expect(logged(from).find((l) => l.msg.startsWith("worker rekey answered"))).toMatchObject({ worker: k0.keyId, superseded: true });
    expect(info(k0.keyId)).toMatchObject({ rekeys: 0, rekey_pending: true, status: "active" });
    // The retry's key works and confirms; the old key is then the previous key (grace).
    expect(await as(r2.next!).get("lost/a")).toBe(1);
    expect(info(k0.keyId)).toMatchObject({ rekeys: 1, rekey_pending: false, status: "active" });
    expect(logged(from).some((l) => l.msg === "worker rekeyed: the new key is confirmed" && l.worker === k0.keyId)).toBe(true);
    // Whoever signs with the first answer's key received an answer the worker says it lost: a second holder.
    const from2 = logs.length;
    expect(await codeOf(as(r1.next!).whoami())).toBe("auth_failed");
    expect(info(k0.keyId).status).toBe("revoked");
    expect(logged(from2).some((l) => l.event === "clone_suspected" && l.worker === k0.keyId)).toBe(true);
    expect(await codeOf(as(r2.next!).whoami())).toBe("auth_failed");
  });

  test("a pending key that is superseded locks the worker even if it is the only one ever used", async () => {
    const k0 = await issue("two-answers");
    const r1 = await rawRekey(k0);
    const r2 = await rawRekey(k0);
    expect(r1.status === 200 && r2.status === 200).toBe(true);
    const from = logs.length;
    expect(await codeOf(as(r1.next!).get("nothing"))).toBe("auth_failed");
    expect(info(k0.keyId).status).toBe("revoked");
    expect(logged(from).find((l) => l.msg === "authentication failed")).toMatchObject({ reason: "clone_suspected", key_id: k0.keyId, route: "kv" });
    expect(await codeOf(as(k0).whoami())).toBe("auth_failed");
  });

  test("after confirmation, the old key rekeying is a clone (locked), inside the grace period too", async () => {
    const k0 = await issue("confirmed");
    const r1 = await rawRekey(k0);
    expect(await codeOf(as(r1.next!).whoami())).toBe("ok");
    expect(await codeOf(as(k0).whoami())).toBe("ok"); // in flight: the grace period
    expect((await rawRekey(k0)).status).toBe(401);
    expect(info(k0.keyId).status).toBe("revoked");
  });

  test("a demanded rotation is completed only by a rekey made after the demand; then the old key gets no grace", async () => {
    const k0 = await issue("demanded");
    const early = await rawRekey(k0); // made before the demand
    const res = await fetch(`http://localhost/v1/admin/workers/${k0.keyId}/rotate`, { method: "POST", unix: d.adminSocketPath } as RequestInit);
    expect(res.status).toBe(200);
    expect(await codeOf(as(k0).get("x"))).toBe("rekey_required");
    expect(await codeOf(as(early.next!).whoami())).toBe("ok"); // confirms the early rekey…
    expect(info(k0.keyId)).toMatchObject({ rekeys: 1, rekey_required: true }); // …which does not complete the rotation
    const k1 = early.next!;
    expect(await codeOf(as(k1).get("x"))).toBe("rekey_required");
    // The old key can rekey, again if the answer was lost, and do nothing else.
    const lost = await rawRekey(k1);
    expect(lost.status).toBe(200);
    expect(await codeOf(as(k1).get("x"))).toBe("rekey_required");
    const retry = await rawRekey(k1);
    expect(retry.status).toBe(200);
    expect(await codeOf(as(retry.next!).set("demanded/x", 1, { ttlMs: 60_000 }))).toBe("ok");
    expect(info(k0.keyId)).toMatchObject({ rekeys: 2, rekey_required: false, rekey_pending: false, status: "active" });
    // No grace for the key the admin wanted gone: refused at once (not locked)…
    const from = logs.length;
    expect(await codeOf(as(k1).get("demanded/x"))).toBe("auth_failed");
    expect(logged(from).find((l) => l.msg === "authentication failed")).toMatchObject({ reason: "retired_key", key_id: k0.keyId });
    expect(info(k0.keyId).status).toBe("active");
    // …and a rekey with it now is a second holder.
    expect((await rawRekey(k1)).status).toBe(401);
    expect(info(k0.keyId).status).toBe("revoked");
  });
});
