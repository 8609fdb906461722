/**
 * Join (PROTOCOL.md §5), rekey and clone detection (§6), forced rotation,
 * staged server key rotation, the join rate limit and admin credentials,
 * through the real daemon (in-process, real unix sockets). Refusals are a
 * generic auth_failed on the wire; the precise reason is in logs and metrics.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { DEFAULTS, type DaemonConfig } from "../../src/config/index.ts";
import { Client, HushError, createUnixTransport, joinWithToken } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { decodeCredential, decodeJoinToken, encodeCredential, encodeJoinToken, encodeServerPublic, formatTokenId } from "../../src/keys/index.ts";
import { equalBytes, fromB64u, fromUtf8, randomBytes, toB64u, utf8 } from "../../src/crypto/index.ts";
import { createInitiator } from "../../src/noise/index.ts";
import type { TokenSettings } from "../../src/broker/index.ts";
import { tempDir } from "../_tmp.ts";

interface Env {
  d: Daemon;
  dir: string;
  logs: string[];
}

async function start(extra: Partial<DaemonConfig> = {}): Promise<Env> {
  const dir = tempDir("hush-join-");
  const logs: string[] = [];
  const d = await startDaemon(
    // Every failure written at once and none refused for its source: these tests read each reason from the log.
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), rekeyGraceMs: 300, failures: { ...DEFAULTS.failures, intervalMs: 0, rate: 0 }, ...extra },
    { version: "test", log: new Logger({ format: "json", write: (l) => logs.push(l) }) },
  );
  return { d, dir, logs };
}

async function stop(e: Env | undefined) {
  if (!e) return;
  await e.d.stop();
  rmSync(e.dir, { recursive: true, force: true });
}

/** A token record plus its HUSH-JOIN-1… string (encoded before any use wipes the PSK). */
function mkToken(e: Env, s: TokenSettings = {}) {
  const t = e.d.state.tokens.create(s, e.d.state.serverKeys.active.id);
  const token = encodeJoinToken({ tokenId: t.id, psk: t.psk, serverPublic: e.d.state.serverKeys.byId(t.serverKeyId)!.publicKey });
  return { t, token };
}

function joinW(e: Env, token: string, name = "w") {
  return joinWithToken(createUnixTransport(e.d.socketPath, { retries: 0 }), token, name);
}

function client(e: Env, credential: string, autoRekey = false) {
  return new Client({ socket: e.d.socketPath, credential, autoRekey, retries: 0 });
}

/** Message 1 built by hand, as a third-party initiator would. */
function msg1(token: string, payload: Record<string, unknown>) {
  const t = decodeJoinToken(token);
  const init = createInitiator({ remoteStatic: t.serverPublic, psk: t.psk, prologue: utf8(`hush/1 join\n${t.tokenId}`) });
  const msg = init.writeMessage1(utf8(JSON.stringify(payload)));
  return { init, msg, tokenId: t.tokenId, serverPublic: t.serverPublic };
}

async function post(socket: string, path: string, body: string) {
  const res = await fetch("http://localhost" + path, { method: "POST", body, headers: { "content-type": "application/json" }, unix: socket } as RequestInit);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function postJoin(e: Env, tokenId: string, msg: Uint8Array) {
  return post(e.d.socketPath, "/v1/join", JSON.stringify({ token_id: tokenId, msg: toB64u(msg) }));
}

async function admin(e: Env, method: string, path: string, body?: unknown) {
  const res = await fetch("http://localhost" + path, { method, body: body === undefined ? undefined : JSON.stringify(body), unix: e.d.adminSocketPath } as RequestInit);
  return { status: res.status, json: (await res.json()) as any };
}

/** A counter's value from the Prometheus exposition; `labels` as rendered, e.g. `{reason="x"}`. */
function metric(e: Env, name: string, labels: string): number {
  const line = e.d.state.metrics.render().split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** Parsed log lines written since index `from`. */
function logsFrom(e: Env, from: number): any[] {
  return e.logs.slice(from).map((l) => JSON.parse(l));
}

async function errorOf(p: Promise<unknown>): Promise<HushError> {
  const x = await p.then(
    () => undefined,
    (err) => err,
  );
  if (!(x instanceof HushError)) throw new Error(`expected a HushError, got ${x === undefined ? "success" : String(x)}`);
  return x;
}

let e: Env;
beforeAll(async () => {
  e = await start();
});
afterAll(() => stop(e));

describe("join", () => {
  test("join → signed whoami: id, name and the token's tags; the key record says via join and token_id", async () => {
    const { t, token } = mkToken(e, { tags: ["linux", "ci"] });
    const r = await joinW(e, token, "builder-1");
    expect(r.credential).toStartWith("HUSH-WORKER-1");
    expect(r.id).toMatch(/^w_[A-Za-z0-9_-]{16}$/);
    expect(r.tags).toEqual(["ci", "linux"]);
    const c = client(e, r.credential);
    const who = await c.whoami();
    expect(who).toMatchObject({ id: r.id, name: "builder-1", tags: ["ci", "linux"], kind: "worker" });
    // Message 2's expires_at is computed a moment before the record's: never later than the real expiry.
    expect(who.expiresAt - r.expiresAt).toBeGreaterThanOrEqual(0);
    expect(who.expiresAt - r.expiresAt).toBeLessThan(1000);
    const info = e.d.state.registry.info(e.d.state.registry.get(r.id)!);
    expect(info).toMatchObject({ via: "join", token_id: t.id, status: "active", kind: "worker" });
    expect(t.uses).toBe(1);
    expect(t.usesLeft).toBe(0);
    // The credential addresses this daemon's server key.
    expect(equalBytes(decodeCredential(r.credential).serverPublic, e.d.state.serverKeys.active.publicKey)).toBe(true);
    c.close();
  });

  const refusals: [string, () => Promise<string>, string][] = [
    [
      "expired",
      async () => {
        const { token } = mkToken(e, { ttlMs: 1, uses: 5 });
        await Bun.sleep(5);
        return token;
      },
      "expired_token",
    ],
    [
      "exhausted (1 use, second join)",
      async () => {
        const { token } = mkToken(e, { uses: 1 });
        await joinW(e, token);
        return token;
      },
      "exhausted_token",
    ],
    [
      "revoked",
      async () => {
        const { t, token } = mkToken(e, { uses: 5 });
        e.d.state.tokens.revoke(t.id);
        return token;
      },
      "revoked_token",
    ],
    [
      "unknown",
      async () =>
        encodeJoinToken({ tokenId: formatTokenId(randomBytes(9)), psk: randomBytes(32), serverPublic: e.d.state.serverKeys.active.publicKey }),
      "unknown_token",
    ],
  ];
  test.each(refusals)("%s token → generic auth_failed; reason only in logs and metrics", async (_n, make, reason) => {
    const token = await make();
    const failures0 = metric(e, "hush_auth_failures_total", `{reason="${reason}"}`);
    const refused0 = metric(e, "hush_joins_total", `{result="refused"}`);
    const from = e.logs.length;
    // Raw: the body is the generic error and never names the reason.
    const m = msg1(token, { name: "x", ts: Date.now() });
    const raw = await postJoin(e, m.tokenId, m.msg);
    expect(raw.status).toBe(401);
    const body = JSON.parse(raw.text);
    expect(body).toMatchObject({ error: "auth_failed", message: "authentication failed" });
    expect(Object.keys(body).sort()).toEqual(["corr_id", "error", "message"]);
    expect(raw.text).not.toContain(reason);
    // SDK: the same generic HushError.
    const err = await errorOf(joinW(e, token));
    expect(err.code).toBe("auth_failed");
    expect(err.message).toBe("authentication failed");
    const refusedLogs = logsFrom(e, from).filter((l) => l.msg === "join refused");
    expect(refusedLogs.map((l) => l.reason)).toEqual([reason, reason]);
    expect(refusedLogs[0].corr_id).toBe(body.corr_id);
    expect(metric(e, "hush_auth_failures_total", `{reason="${reason}"}`)).toBe(failures0 + 2);
    expect(metric(e, "hush_joins_total", `{result="refused"}`)).toBe(refused0 + 2);
  });

  test("a token use is spent only by a completed handshake (corrupted message 1, wrong PSK)", async () => {
    const { t, token } = mkToken(e, { uses: 1 });
    const from = e.logs.length;
    for (const at of [0, 40]) {
      // byte 0: the ephemeral key; byte 40: the encrypted payload.
      const m = msg1(token, { name: "x", ts: Date.now() });
      m.msg[at] ^= 0x01;
      expect((await postJoin(e, m.tokenId, m.msg)).status).toBe(401);
    }
    const wrong = encodeJoinToken({ tokenId: t.id, psk: randomBytes(32), serverPublic: e.d.state.serverKeys.active.publicKey });
    expect((await errorOf(joinW(e, wrong))).code).toBe("auth_failed");
    expect(logsFrom(e, from).filter((l) => l.msg === "join refused").map((l) => l.reason)).toEqual(["handshake_failed", "handshake_failed", "handshake_failed"]);
    expect(t.uses).toBe(0);
    expect(t.usesLeft).toBe(1);
    // The one use is still there for a correct join …
    const r = await joinW(e, token, "after-garbage");
    expect((await client(e, r.credential).whoami()).name).toBe("after-garbage");
    // … and it was the only one.
    expect((await errorOf(joinW(e, token))).code).toBe("auth_failed");
    expect(logsFrom(e, from).at(-1)!.reason).toBe("exhausted_token");
  });

  test("a replayed message 1 is refused (replayed_message) and spends nothing", async () => {
    const { t, token } = mkToken(e, { uses: 5 });
    const m = msg1(token, { name: "x", ts: Date.now() });
    const first = await postJoin(e, m.tokenId, m.msg);
    expect(first.status).toBe(200);
    expect(typeof JSON.parse(first.text).msg).toBe("string");
    const from = e.logs.length;
    const second = await postJoin(e, m.tokenId, m.msg);
    expect(second.status).toBe(401);
    expect(JSON.parse(second.text)).toMatchObject({ error: "auth_failed", message: "authentication failed" });
    expect(second.text).not.toContain("replay");
    expect(logsFrom(e, from).find((l) => l.msg === "join refused")?.reason).toBe("replayed_message");
    expect(t.uses).toBe(1);
    expect(t.usesLeft).toBe(4);
  });

  test("a message 1 whose timestamp is over 60 s old (or ahead) is refused (stale_timestamp)", async () => {
    const { t, token } = mkToken(e, { uses: 5 });
    for (const ts of [Date.now() - 61_000, Date.now() + 61_000]) {
      const from = e.logs.length;
      const m = msg1(token, { name: "x", ts });
      const r = await postJoin(e, m.tokenId, m.msg);
      expect(r.status).toBe(401);
      expect(r.text).not.toContain("stale");
      expect(logsFrom(e, from).find((l) => l.msg === "join refused")?.reason).toBe("stale_timestamp");
    }
    // Inside the window is fine.
    const ok = msg1(token, { name: "x", ts: Date.now() - 50_000 });
    expect((await postJoin(e, ok.tokenId, ok.msg)).status).toBe(200);
    expect(t.uses).toBe(1);
  });

  test("tags and kind cannot be chosen by the worker: they come from the token", async () => {
    const { token } = mkToken(e, { tags: ["ci"] });
    const m = msg1(token, { name: "x", ts: Date.now(), tags: ["admin"], kind: "admin" });
    const r = await postJoin(e, m.tokenId, m.msg);
    expect(r.status).toBe(200);
    const m2 = m.init.readMessage2(fromB64u(JSON.parse(r.text).msg));
    const payload = JSON.parse(fromUtf8(m2.payload));
    expect(payload.tags).toEqual(["ci"]);
    expect(payload.id).toStartWith("w_");
    expect(Math.abs(payload.server_time - Date.now())).toBeLessThan(5_000);
    const credential = encodeCredential({ kind: "worker", keyId: payload.id, macKey: m2.c1.key, encKey: m2.c2.key, serverPublic: m.serverPublic });
    const c = client(e, credential);
    const who: any = await c.whoami();
    expect(who).toMatchObject({ id: payload.id, name: "x", tags: ["ci"], kind: "worker" });
    expect(e.d.state.registry.get(payload.id)!.tags).toEqual(["ci"]);
    // The handshake keys are the worker's keys: kv works, admin routes do not.
    expect(await c.list()).toBeArray();
    expect((await errorOf(c.call("GET", "/v1/admin/stats"))).code).toBe("forbidden");
  });
});

describe("rekey", () => {
  test("rekey → new credential; the old one works inside the grace period and is refused after it (retired_key)", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "rk");
    const c = client(e, r.credential);
    const rec = e.d.state.registry.get(r.id)!;
    const exp0 = rec.expiresAt;
    await c.set("rk/a", 1, { ttlMs: 60_000 });
    await c.rekey();
    expect(c.credential).not.toBe(r.credential);
    expect(c.keyId).toBe(r.id);
    expect(rec.rekeys).toBe(1);
    expect(rec.expiresAt).toBeGreaterThanOrEqual(exp0);
    expect(equalBytes(rec.macKey, decodeCredential(c.credential).macKey)).toBe(true);
    expect(await c.get("rk/a")).toBe(1);
    const old = client(e, r.credential);
    expect(await old.get("rk/a")).toBe(1); // grace period (300 ms)
    await Bun.sleep(350);
    const from = e.logs.length;
    expect((await errorOf(old.get("rk/a"))).code).toBe("auth_failed");
    expect(logsFrom(e, from).find((l) => l.msg === "authentication failed")).toMatchObject({ reason: "retired_key", key_id: r.id });
    // The retired key is refused; the worker itself is fine.
    expect(await c.get("rk/a")).toBe(1);
    expect(e.d.state.registry.info(rec).status).toBe("active");
  });

  test("clone detection: two holders of one credential both rekey → the worker is locked (clone_suspected)", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "cloned");
    const a = client(e, r.credential);
    const b = client(e, r.credential);
    await a.rekey();
    const failures0 = metric(e, "hush_auth_failures_total", `{reason="clone_suspected"}`);
    const from = e.logs.length;
    const err = await errorOf(b.rekey());
    expect(err.code).toBe("auth_failed");
    expect(e.d.state.registry.info(e.d.state.registry.get(r.id)!).status).toBe("revoked");
    const lines = logsFrom(e, from);
    expect(lines.some((l) => l.event === "clone_suspected" && l.worker === r.id)).toBe(true);
    expect(lines.some((l) => l.msg === "rekey refused" && l.reason === "clone_suspected")).toBe(true);
    expect(metric(e, "hush_auth_failures_total", `{reason="clone_suspected"}`)).toBe(failures0 + 1);
    // The key A rotated to is refused too.
    const from2 = e.logs.length;
    expect((await errorOf(a.whoami())).code).toBe("auth_failed");
    expect(logsFrom(e, from2).find((l) => l.msg === "authentication failed")?.reason).toBe("revoked");
    expect((await errorOf(a.rekey())).code).toBe("auth_failed");
  });

  test("clone detection: a raw rekey signed with a key rotated away past the grace period locks the worker", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "cloned-late");
    const a = client(e, r.credential);
    await a.rekey();
    await Bun.sleep(350);
    const old = decodeCredential(r.credential);
    const body = JSON.stringify({ msg: toB64u(randomBytes(64)) });
    const s = signRequest(old.macKey, old.keyId, { method: "POST", target: "/v1/rekey", body });
    const res = await fetch("http://localhost/v1/rekey", { method: "POST", body, headers: { authorization: s.authorization }, unix: e.d.socketPath } as RequestInit);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "auth_failed", message: "authentication failed" });
    expect(e.d.state.registry.info(e.d.state.registry.get(r.id)!).status).toBe("revoked");
    expect((await errorOf(a.whoami())).code).toBe("auth_failed");
  });

  test("clone detection through the SDK past the grace period; the refusal is validly signed (not a zeroed key)", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "cloned-sdk");
    const a = client(e, r.credential);
    const b = client(e, r.credential);
    await a.rekey();
    await Bun.sleep(350);
    const err = await errorOf(b.rekey());
    expect(err.code).toBe("auth_failed");
    expect(err.message).toBe("authentication failed"); // a bad-signature complaint would mean the answer was signed with a wiped key
    expect(e.d.state.registry.info(e.d.state.registry.get(r.id)!).status).toBe("revoked");
  });

  test("rekey with a message 1 that does not verify is refused and changes nothing", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "rk-bad");
    const cred = decodeCredential(r.credential);
    const body = JSON.stringify({ msg: toB64u(randomBytes(80)) });
    const s = signRequest(cred.macKey, cred.keyId, { method: "POST", target: "/v1/rekey", body });
    const from = e.logs.length;
    const res = await fetch("http://localhost/v1/rekey", { method: "POST", body, headers: { authorization: s.authorization }, unix: e.d.socketPath } as RequestInit);
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(res.headers.get("hush-signature")).toBe(signResponse(cred.macKey, s.signature, 401, text));
    expect(logsFrom(e, from).find((l) => l.msg === "rekey refused")?.reason).toBe("handshake_failed");
    const rec = e.d.state.registry.get(r.id)!;
    expect(rec.rekeys).toBe(0);
    expect(equalBytes(rec.macKey, cred.macKey)).toBe(true);
    expect((await client(e, r.credential).whoami()).id).toBe(r.id);
  });

  test("admin rotate (rekey demanded): rekey_required without autoRekey (whoami still works); the SDK with autoRekey rotates by itself", async () => {
    const { token } = mkToken(e);
    const r = await joinW(e, token, "forced");
    const manual = client(e, r.credential, false);
    await manual.set("forced/k", "v", { ttlMs: 60_000 });
    const a = await admin(e, "POST", `/v1/admin/workers/${r.id}/rotate`);
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ id: r.id, rekey_required: true });
    expect((await errorOf(manual.get("forced/k"))).code).toBe("rekey_required");
    expect((await errorOf(manual.list())).code).toBe("rekey_required");
    const who: any = await manual.whoami();
    expect(who).toMatchObject({ id: r.id, rekeyRequired: true });

    const seen: string[] = [];
    const auto2 = new Client({ socket: e.d.socketPath, credential: r.credential, autoRekey: true, retries: 0, onRekey: (s) => seen.push(s) });
    expect(await auto2.get("forced/k")).toBe("v");
    expect(auto2.credential).not.toBe(r.credential);
    expect(seen).toEqual([auto2.credential]);
    const rec = e.d.state.registry.get(r.id)!;
    expect(rec.rekeyRequired).toBe(false);
    expect(rec.rekeys).toBe(1);
    expect(e.d.state.registry.info(rec).rekey_required).toBe(false);
    expect(await auto2.get("forced/k")).toBe("v");
    // Rotating a revoked or unknown worker is not_found.
    e.d.state.registry.revoke(r.id);
    expect((await admin(e, "POST", `/v1/admin/workers/${r.id}/rotate`)).status).toBe(404);
  });

  test("a one-shot client completes a demanded rotation and exits: the saved old key is refused at once (no grace), not locked", async () => {
    // `hush kv …` after `hush rotate worker`: the SDK rotates, the new key is not saved anywhere.
    const { token } = mkToken(e);
    const r = await joinW(e, token, "oneshot");
    await admin(e, "POST", `/v1/admin/workers/${r.id}/rotate`);
    const first = client(e, r.credential, true);
    expect(await first.list()).toBeArray();
    first.close();
    // Before the rotation, the old key could only rekey and ask whoami; after it, not even that.
    const from = e.logs.length;
    const err = await errorOf(client(e, r.credential, true).list());
    expect(err.code).toBe("auth_failed");
    expect(logsFrom(e, from).find((l) => l.msg === "authentication failed")).toMatchObject({ reason: "retired_key", key_id: r.id });
    expect(e.d.state.registry.info(e.d.state.registry.get(r.id)!).status).toBe("active");
  });

  test("half-life auto-rekey: past half the key's lifetime the SDK rotates by itself and the key's expiry moves", async () => {
    const { token } = mkToken(e, { workerTtlMs: 1500 });
    const r = await joinW(e, token, "halflife");
    const rec = e.d.state.registry.get(r.id)!;
    const exp0 = rec.expiresAt;
    expect(exp0 - Date.now()).toBeLessThanOrEqual(1500);
    const c = client(e, r.credential, true);
    await c.set("hl", 1, { ttlMs: 60_000 });
    expect(c.credential).toBe(r.credential);
    await Bun.sleep(850);
    expect(await c.get("hl")).toBe(1);
    expect(c.credential).not.toBe(r.credential);
    expect(rec.rekeys).toBe(1);
    expect(rec.expiresAt).toBeGreaterThan(exp0);
    const who = await c.whoami();
    expect(who.expiresAt).toBe(rec.expiresAt);
    expect(who.expiresAt).toBeGreaterThan(exp0);
    // And again past the new half-life, without ever expiring.
    await Bun.sleep(850);
    expect(await c.get("hl")).toBe(1);
    expect(rec.rekeys).toBe(2);
  });
});

describe("server key rotation (prepare → activate → retire)", () => {
  let k: Env;
  beforeAll(async () => {
    k = await start();
  });
  afterAll(() => stop(k));

  test("tokens minted at each stage, workers joined before, rekey after retire", async () => {
    const oldKey = k.d.state.serverKeys.active;
    const oldPub = encodeServerPublic(oldKey.publicKey);
    const early = await joinW(k, mkToken(k, { tags: ["early"] }).token, "early");
    const w = client(k, early.credential);
    await w.set("sk/a", "x", { ttlMs: 60_000 });

    const t0 = mkToken(k, { uses: 5, tags: ["t0"] });
    const prep = await admin(k, "POST", "/v1/admin/server-key/prepare");
    expect(prep.status).toBe(200);
    expect(prep.json.keys.map((x: any) => x.state).sort()).toEqual(["active", "next"]);
    const next = prep.json.keys.find((x: any) => x.state === "next");
    expect((await admin(k, "POST", "/v1/admin/server-key/prepare")).json.error).toBe("conflict");

    // Minted after prepare: still under the active (old) key.
    const t1 = await admin(k, "POST", "/v1/admin/tokens", { uses: 5, tags: ["t1"] });
    expect(t1.status).toBe(201);
    expect(t1.json.server_key).toBe(oldPub);
    expect(encodeServerPublic(decodeJoinToken(t1.json.token).serverPublic)).toBe(oldPub);

    const act = await admin(k, "POST", "/v1/admin/server-key/activate");
    expect(act.json.keys.map((x: any) => [x.id, x.state]).sort()).toEqual([[next.id, "active"], [oldKey.id, "previous"]].sort());
    expect((await admin(k, "POST", "/v1/admin/server-key/activate")).json.error).toBe("conflict");
    const t2 = await admin(k, "POST", "/v1/admin/tokens", { uses: 5, tags: ["t2"] });
    expect(t2.json.server_key).toBe(next.public);
    expect(t2.json.server_key).not.toBe(oldPub);
    expect(encodeServerPublic(decodeJoinToken(t2.json.token).serverPublic)).toBe(next.public);
    expect(encodeServerPublic(decodeJoinToken(t0.token).serverPublic)).toBe(oldPub);

    // After activate, every token works.
    for (const [tok, tag] of [[t0.token, "t0"], [t1.json.token, "t1"], [t2.json.token, "t2"]] as const) {
      const j = await joinW(k, tok, "act-" + tag);
      expect(j.tags).toEqual([tag]);
      expect((await client(k, j.credential).whoami()).tags).toEqual([tag]);
    }

    const ret = await admin(k, "POST", "/v1/admin/server-key/retire");
    expect(ret.status).toBe(200);
    expect(ret.json.keys).toEqual([expect.objectContaining({ id: next.id, state: "active", public: next.public })]);
    expect(k.d.state.serverKeys.byId(oldKey.id)).toBeUndefined();
    expect((await admin(k, "POST", "/v1/admin/server-key/retire")).json.error).toBe("conflict");

    for (const tok of [t0.token, t1.json.token]) {
      const from = k.logs.length;
      expect((await errorOf(joinW(k, tok))).code).toBe("auth_failed");
      expect(logsFrom(k, from).find((l) => l.msg === "join refused")?.reason).toBe("revoked_token");
    }
    const tokens = (await admin(k, "GET", "/v1/admin/tokens?all=1")).json.tokens;
    expect(tokens.find((x: any) => x.id === t0.t.id).status).toBe("revoked");
    expect(tokens.find((x: any) => x.id === t1.json.id).status).toBe("revoked");
    expect(tokens.find((x: any) => x.id === t2.json.id).status).toBe("active");
    const late = await joinW(k, t2.json.token, "late");
    expect((await client(k, late.credential).whoami()).tags).toEqual(["t2"]);

    // A worker joined before prepare: still works, and rekeys against the new key.
    expect(await w.get("sk/a")).toBe("x");
    const who: any = await w.whoami();
    expect(who.serverPublic).toBe(next.public);
    await w.rekey();
    expect(encodeServerPublic(decodeCredential(w.credential).serverPublic)).toBe(next.public);
    expect(await w.get("sk/a")).toBe("x");
    expect(k.d.state.registry.get(early.id)!.rekeys).toBe(1);
  });
});

describe("join rate limit", () => {
  let rl: Env;
  beforeAll(async () => {
    // On a unix socket every caller is the same source, so only the global bucket applies there.
    rl = await start({ joinRate: { global: 2, globalBurst: 3, perSource: 1000, perSourceBurst: 1000 } });
  });
  afterAll(() => stop(rl));

  test("the 4th rapid join is rate_limited (429, Retry-After) by the global bucket", async () => {
    const { token } = mkToken(rl, { uses: 10 });
    for (let i = 0; i < 3; i++) expect((await joinW(rl, token, `r${i}`)).id).toStartWith("w_");
    const err = await errorOf(joinW(rl, token, "r3"));
    expect(err.code).toBe("rate_limited");
    expect(err.detail.status).toBe(429);
    expect(Number(err.detail.retryAfter)).toBeGreaterThanOrEqual(1);
    const raw = await post(rl.d.socketPath, "/v1/join", "{}");
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(raw.text).error).toBe("rate_limited");
    expect(metric(rl, "hush_joins_total", `{result="rate_limited"}`)).toBe(2);
    expect(metric(rl, "hush_joins_total", `{result="ok"}`)).toBe(3);
    // A refused attempt spent no token use.
    expect(rl.d.state.tokens.list()[0].uses).toBe(3);
  });
});

describe("review fixes", () => {
  test("only an active token can be rotated; rotating twice is refused", async () => {
    const { t } = mkToken(e, { uses: 2 });
    const r1 = await admin(e, "POST", `/v1/admin/tokens/${t.id}/rotate`);
    expect(r1.status).toBe(201);
    const again = await admin(e, "POST", `/v1/admin/tokens/${t.id}/rotate`);
    expect(again.status).toBe(409);
    expect(again.json.message).toContain("revoked");
  });
  test('"uses": null means the default (one use), not unlimited; "tags": null means none', async () => {
    const r = await admin(e, "POST", "/v1/admin/tokens", { uses: null, tags: null });
    expect(r.json).toMatchObject({ uses_left: 1, tags: [] });
  });
  test("admin keys are minted on the admin socket only; a signed admin request cannot mint more", async () => {
    const r = await admin(e, "POST", "/v1/admin/admins", { name: "root-ops" });
    const c = new Client({ socket: e.d.socketPath, credential: r.json.credential, retries: 0 });
    expect((await errorOf(c.call("POST", "/v1/admin/admins", { name: "more" }))).code).toBe("forbidden");
    expect((await admin(e, "GET", "/v1/admin/admins")).json.admins.some((a: any) => a.id === r.json.id)).toBe(true);
  });
  test("no rekey hint once a key already ends at the hard cap (no rekey loop near the cap)", async () => {
    const { token } = mkToken(e);
    const j = await joinW(e, token, "capped");
    const rec = e.d.state.registry.get(j.id)!;
    rec.hardExpiresAt = rec.expiresAt; // as if the 30-day cap were reached
    const cred = decodeCredential(j.credential);
    const s = signRequest(cred.macKey, cred.keyId, { method: "GET", target: "/v1/whoami" });
    const res = await fetch("http://localhost/v1/whoami", { headers: { authorization: s.authorization }, unix: e.d.socketPath } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("hush-rekey-after")).toBeNull();
  });
});

describe("admin credentials", () => {
  test("an admin key rotates by itself at half-life (whoami is allowed for admins); admin ids cannot be force-rotated", async () => {
    const r = await admin(e, "POST", "/v1/admin/admins", { name: "ops", ttl_ms: 1500 });
    const c = new Client({ socket: e.d.socketPath, credential: r.json.credential, retries: 0 });
    await c.call("GET", "/v1/admin/stats");
    await Bun.sleep(800);
    expect((await c.call("GET", "/v1/admin/stats")).version).toBe("test");
    expect(c.credential).not.toBe(r.json.credential);
    expect((await admin(e, "POST", `/v1/admin/workers/${r.json.id}/rotate`)).json.error).toBe("not_found");
  });

  test("an admin credential reaches /v1/admin and /metrics on hush.sock; a worker gets forbidden; admins get forbidden on /v1/kv", async () => {
    const a = await admin(e, "POST", "/v1/admin/admins", { name: "ops" });
    expect(a.status).toBe(201);
    expect(a.json.credential).toStartWith("HUSH-ADMIN-1");
    expect(a.json.kind).toBe("admin");
    const ac = client(e, a.json.credential);
    const stats: any = await ac.call("GET", "/v1/admin/stats");
    expect(stats.version).toBe("test");
    expect(stats.server_key).toBe(encodeServerPublic(e.d.state.serverKeys.active.publicKey));
    // Admin over hush.sock can also mint tokens.
    const tok: any = await ac.call("POST", "/v1/admin/tokens", { tags: ["via-admin-cred"] });
    expect((await joinW(e, tok.token)).tags).toEqual(["via-admin-cred"]);

    // /metrics is text, so it is signed and checked by hand here.
    const signedGet = async (credential: string, target: string) => {
      const c = decodeCredential(credential);
      const s = signRequest(c.macKey, c.keyId, { method: "GET", target });
      const res = await fetch("http://localhost" + target, { headers: { authorization: s.authorization }, unix: e.d.socketPath } as RequestInit);
      const text = await res.text();
      expect(res.headers.get("hush-signature")).toBe(signResponse(c.macKey, s.signature, res.status, text));
      return { status: res.status, text };
    };
    const m = await signedGet(a.json.credential, "/metrics");
    expect(m.status).toBe(200);
    expect(m.text).toContain("hush_joins_total");

    const { token } = mkToken(e);
    const wc = (await joinW(e, token)).credential;
    const worker = client(e, wc);
    expect((await errorOf(worker.call("GET", "/v1/admin/stats"))).code).toBe("forbidden");
    expect((await errorOf(worker.call("POST", "/v1/admin/tokens", {}))).code).toBe("forbidden");
    const wm = await signedGet(wc, "/metrics");
    expect(wm.status).toBe(403);
    expect(JSON.parse(wm.text).error).toBe("forbidden");

    expect((await errorOf(ac.list())).code).toBe("forbidden");
    expect((await errorOf(ac.set("k", 1, { ttlMs: 1000 }))).code).toBe("forbidden");
  });
});

describe("join rate limit per source (TCP)", () => {
  let tcp: Env;
  let port = 0;
  beforeAll(async () => {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    port = s.port;
    s.stop(true);
    tcp = await start({ joinRate: { global: 1000, globalBurst: 1000, perSource: 2, perSourceBurst: 3 }, listen: { url: `http://127.0.0.1:${port}` } });
  });
  afterAll(() => stop(tcp));
  test("past its bucket one source is refused while the global bucket is not drained", async () => {
    const { token } = mkToken(tcp, { uses: 10 });
    const { createLoopbackTransport } = await import("../../src/client/index.ts");
    const t = createLoopbackTransport(`http://127.0.0.1:${port}`);
    for (let i = 0; i < 3; i++) expect((await joinWithToken(t, token, `s${i}`)).id).toStartWith("w_");
    expect((await errorOf(joinWithToken(t, token, "s3"))).code).toBe("rate_limited");
    // The unix socket (another source) still joins.
    expect((await joinW(tcp, token, "u1")).id).toStartWith("w_");
  });
});
