/**
 * A failure in logging or auditing never leaves a half-done change (issue
 * 10, item 2; src/server/change.ts). For every kind of recorded change —
 * worker and admin keys issued, revoked and rotated; tokens created,
 * revoked and rotated; the three server-key stages; credentials put and
 * deleted, checked out and returned; join; rekey — the change is attempted
 * with a fault in its path:
 *
 * - an audit sink that throws: `500 internal` with the corr_id, and the
 *   daemon's state exactly as before;
 * - a logger that throws: the change is made and recorded all the same (its
 *   log line is written only after it was committed, so it cannot undo it);
 * - the real audit writer on a 1 MiB tmpfs that fills up (root only): the
 *   attempt during which the file runs out of room is `503 unavailable` and
 *   stores nothing, and the log still verifies afterwards (a line the file
 *   took only part of was cut off again).
 *
 * Then the same change works once the fault is gone, health and ready
 * answer, and the daemon stops cleanly.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { answer, createPipeline, type NeutralRequest } from "../../src/server/pipeline.ts";
import { mintCredential } from "../../src/server/routes-admin.ts";
import { STATUS } from "../../src/server/http.ts";
import type { AuditEvent, AuditSink } from "../../src/server/state.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { utf8 } from "../../src/crypto/index.ts";
import { encodeJoinToken } from "../../src/keys/index.ts";
import { Client, createUnixTransport, joinWithToken } from "../../src/client/index.ts";
import { HushError } from "../../src/errors.ts";
import { AuditWriter, verifyAuditLog } from "../../src/audit/index.ts";
import { fillUntilFull } from "../audit/_fill.ts";
import { mountTmpfs } from "../_tmpfs.ts";
import { tempDir } from "../_tmp.ts";

type Attempt = { status: number; body?: any };
interface Kind {
  name: string;
  /** The change writes log lines (checkout and return write none: a logger fault cannot touch them). */
  logs?: false;
  /** Bring the state to where the change can be made (directly, nothing audited); returns what `attempt` needs. */
  prepare(d: Daemon): unknown;
  attempt(d: Daemon, p: any): Promise<Attempt>;
}

function neutral(method: string, target: string, listener: NeutralRequest["listener"], body?: unknown, auth?: string): NeutralRequest {
  return {
    method,
    target,
    authorization: auth ?? null,
    requestId: null,
    contentType: null,
    body: body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body)),
    listener,
    peer: "unix",
  };
}

async function viaPipeline(d: Daemon, req: NeutralRequest): Promise<Attempt> {
  const c = await answer(createPipeline(d.state, req.listener), req);
  return { status: c.answer!.status, body: JSON.parse(c.answer!.body) };
}
const admin = (d: Daemon, method: string, target: string, body?: unknown) => viaPipeline(d, neutral(method, target, "admin", body));
function signed(d: Daemon, rec: { id: string; macKey: Uint8Array }, target: string, body: unknown = {}) {
  const text = JSON.stringify(body);
  const s = signRequest(rec.macKey, rec.id, { method: "POST", target, body: text });
  return viaPipeline(d, { ...neutral("POST", target, "worker"), body: utf8(text), authorization: s.authorization });
}
/** An SDK call as an attempt: its status, from the error code when it fails. */
async function sdk(run: () => Promise<unknown>): Promise<Attempt> {
  try {
    await run();
    return { status: 200 };
  } catch (e) {
    if (!(e instanceof HushError)) throw e;
    return { status: STATUS[e.code], body: { error: e.code } };
  }
}

const worker = (d: Daemon, tags: string[] = ["ci"]) => d.state.registry.create({ kind: "worker", name: "w", tags, via: "issue" });
const serverKey = (d: Daemon, want: "none-next" | "next" | "previous") => {
  const sk = d.state.serverKeys;
  const states = () => sk.list().map((k) => k.state);
  if (want === "none-next") {
    if (states().includes("previous")) sk.retire();
    if (states().includes("next")) {
      sk.activate();
      sk.retire();
    }
  } else if (want === "next") {
    if (states().includes("previous")) sk.retire();
    if (!states().includes("next")) sk.prepare();
  } else if (!states().includes("previous")) {
    if (!states().includes("next")) sk.prepare();
    sk.activate();
  }
};

const KINDS: Kind[] = [
  { name: "workers issue", prepare: () => null, attempt: (d) => admin(d, "POST", "/v1/admin/workers", { name: "n" }) },
  { name: "admins create", prepare: () => null, attempt: (d) => admin(d, "POST", "/v1/admin/admins", { name: "a" }) },
  { name: "workers revoke", prepare: (d) => worker(d).id, attempt: (d, id) => admin(d, "POST", `/v1/admin/workers/${id}/revoke`) },
  { name: "workers rotate", prepare: (d) => worker(d).id, attempt: (d, id) => admin(d, "POST", `/v1/admin/workers/${id}/rotate`) },
  { name: "tokens create", prepare: () => null, attempt: (d) => admin(d, "POST", "/v1/admin/tokens", {}) },
  { name: "tokens revoke", prepare: (d) => d.state.tokens.create({}, d.state.serverKeys.active.id).id, attempt: (d, id) => admin(d, "POST", `/v1/admin/tokens/${id}/revoke`) },
  { name: "tokens rotate", prepare: (d) => d.state.tokens.create({}, d.state.serverKeys.active.id).id, attempt: (d, id) => admin(d, "POST", `/v1/admin/tokens/${id}/rotate`) },
  { name: "server-key prepare", prepare: (d) => serverKey(d, "none-next"), attempt: (d) => admin(d, "POST", "/v1/admin/server-key/prepare") },
  { name: "server-key activate", prepare: (d) => serverKey(d, "next"), attempt: (d) => admin(d, "POST", "/v1/admin/server-key/activate") },
  { name: "server-key retire", prepare: (d) => serverKey(d, "previous"), attempt: (d) => admin(d, "POST", "/v1/admin/server-key/retire") },
  {
    name: "creds put (replace)",
    prepare: (d) => d.state.creds.has("c1") || d.state.creds.put("c1", [utf8("old value")], { allow: ["ci"] }),
    attempt: (d) => admin(d, "POST", "/v1/admin/creds", { name: "c1", value: "new value", allow: ["ci"] }),
  },
  { name: "creds delete", prepare: (d) => d.state.creds.put("c2", [utf8("v2")], {}), attempt: (d) => admin(d, "DELETE", "/v1/admin/creds/c2") },
  {
    name: "checkout",
    logs: false,
    prepare: (d) => {
      if (!d.state.creds.has("db")) d.state.creds.put("db", [utf8("db-secret")], { allow: ["ci"] });
      return worker(d);
    },
    attempt: (d, rec) => signed(d, rec, "/v1/creds/db/checkout"),
  },
  {
    name: "return",
    logs: false,
    prepare: (d) => {
      if (!d.state.creds.has("db")) d.state.creds.put("db", [utf8("db-secret")], { allow: ["ci"] });
      const rec = worker(d);
      return { rec, lease: d.state.creds.checkout("db", rec.id, rec.tags).leaseId };
    },
    attempt: (d, p) => signed(d, p.rec, `/v1/creds/leases/${p.lease}/return`),
  },
  {
    name: "join",
    prepare: (d) => {
      const t = d.state.tokens.create({}, d.state.serverKeys.active.id);
      return encodeJoinToken({ tokenId: t.id, psk: t.psk, serverPublic: d.state.serverKeys.active.publicKey });
    },
    attempt: (d, token) => sdk(() => joinWithToken(createUnixTransport(d.socketPath, { retries: 0 }), token, "joiner")),
  },
  {
    name: "rekey",
    prepare: (d) => new Client({ socket: d.socketPath, credential: mintCredential(d.state, worker(d)), autoRekey: false }),
    attempt: (d, client: Client) => sdk(() => client.rekey()),
  },
];

/** Everything a change could touch (last-seen times aside, which every signed request moves). */
function snapshot(d: Daemon): string {
  const st = d.state;
  return JSON.stringify({
    keys: st.registry.list().map(({ last_seen_at: _, ...k }) => k),
    tokens: st.tokens.list(),
    creds: st.creds.list(),
    leases: st.creds.leaseCount,
    serverKeys: st.serverKeys.list().map((k) => [k.id, k.state]),
    store: st.store.stats(),
  });
}

async function servesAndReady(d: Daemon) {
  expect((await viaPipeline(d, neutral("GET", "/v1/health", "worker"))).status).toBe(200);
  expect((await viaPipeline(d, neutral("GET", "/v1/ready", "worker"))).status).toBe(200);
  const w = worker(d);
  const text = JSON.stringify({ value: 1, ttl_ms: 60_000 });
  const s = signRequest(w.macKey, w.id, { method: "PUT", target: "/v1/kv/still-serving", body: text });
  expect((await viaPipeline(d, { ...neutral("PUT", "/v1/kv/still-serving", "worker"), body: utf8(text), authorization: s.authorization })).status).toBe(200);
}

describe("a sink or logger that throws on demand", () => {
  let d: Daemon;
  let dir: string;
  const events: AuditEvent[] = [];
  let fault: "none" | "audit" | "log" = "none";
  const sink: AuditSink = {
    healthy: true,
    record(e) {
      if (fault === "audit") throw new Error("injected audit fault");
      events.push(e);
    },
    commit(evs, refusal) {
      if (fault === "audit") throw new Error("injected audit fault");
      events.push(...evs);
      return true;
    },
  };
  const logger = new Logger({ format: "json", write: () => {
    if (fault === "log") throw new Error("injected log fault");
  } });

  beforeAll(async () => {
    dir = tempDir("hush-change-");
    d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "s", "hush.sock") }, { version: "t", log: logger, audit: sink });
  });
  afterAll(async () => {
    fault = "none";
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const where of ["audit", "log"] as const) {
    test.each(KINDS.map((k) => [k.name, k] as const))(where === "audit" ? "audit fault: %s → 500 with corr_id, nothing changed; then it works" : "log fault: %s → made and recorded all the same (logged after the commit)", async (_n, kind) => {
      const p = kind.prepare(d);
      const before = snapshot(d);
      const e0 = events.length;
      fault = where;
      let r: Attempt;
      try {
        r = await kind.attempt(d, p);
      } finally {
        fault = "none";
      }
      if (where === "log") {
        // The log line comes only after the change is recorded and made (the
        // daemon's log never tells a change that was taken back), so a logger
        // that throws cannot undo it: made, recorded and answered as usual.
        expect(r.status).toBeLessThan(300);
        expect(events.slice(e0).some((e) => e.result === "ok")).toBe(true);
        if (kind.logs !== false) expect(snapshot(d)).not.toBe(before);
        return;
      }
      expect(r.status).toBe(500);
      if (r.body?.corr_id !== undefined) expect(r.body).toMatchObject({ error: "internal", corr_id: expect.any(String) });
      else expect(r.body).toMatchObject({ error: "internal" }); // an SDK call: the corr_id is in the answer it parsed
      expect(snapshot(d)).toBe(before);
      expect(events.slice(e0).filter((e) => e.result === "ok")).toEqual([]);
      // The same change, fault gone: made and recorded.
      const ok = await kind.attempt(d, p);
      expect(ok.status).toBeLessThan(300);
      expect(snapshot(d)).not.toBe(before);
      expect(events.slice(e0).some((e) => e.result === "ok")).toBe(true);
    });
  }

  test("after every fault: health, ready and other requests are served; KV changes are not recorded, so no fault stops them", async () => {
    await servesAndReady(d);
    fault = "audit";
    try {
      await servesAndReady(d);
    } finally {
      fault = "none";
    }
  });
});

describe("the real audit writer on a tmpfs that fills up", () => {
  const root = tempDir("hush-change-fs-");
  const mnt = join(root, "audit");
  const { mounted, why } = mountTmpfs(mnt, "1m");
  if (!mounted) console.log(`change: SKIP the full-disk tests: ${why}`);
  const filler = join(mnt, "filler");
  let d: Daemon;
  let w: AuditWriter;

  const fill = () => fillUntilFull(filler);
  const room = () => {
    try {
      unlinkSync(filler);
    } catch {}
    w.tick();
    expect(w.status()).toMatchObject({ healthy: true, pendingLines: 0 });
  };

  beforeAll(async () => {
    if (!mounted) return;
    w = AuditWriter.open({ path: join(mnt, "audit.log") });
    d = await startDaemon({ ...DEFAULTS, socketPath: join(root, "s", "hush.sock") }, { version: "t", log: new Logger({ write: () => {} }), audit: w, auditLog: w });
  });
  afterAll(async () => {
    if (mounted) {
      await d.stop();
      Bun.spawnSync(["umount", mnt]);
    }
    rmSync(root, { recursive: true, force: true });
  });

  test.skipIf(!mounted).each(KINDS.map((k) => [k.name, k] as const))("%s: the attempt during which the file fills up is 503 and stores nothing", async (_n, kind) => {
    // The file may still take a few lines (its last page has room): try until one is refused.
    for (let i = 0; i < 60; i++) {
      room();
      const p = kind.prepare(d);
      fill();
      const before = snapshot(d);
      const r = await kind.attempt(d, p);
      if (r.status < 300) continue;
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: "unavailable" });
      expect(snapshot(d)).toBe(before);
      return;
    }
    throw new Error("never refused");
  });

  test.skipIf(!mounted)("once there is room again: every refusal is in the log, which verifies; the daemon serves and stops", async () => {
    room();
    await servesAndReady(d);
    const text = readFileSync(join(mnt, "audit.log"));
    expect(verifyAuditLog(text)).toMatchObject({ ok: true });
    const lines = text.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.result === "error" && l.reason === "unavailable").length).toBeGreaterThanOrEqual(KINDS.length);
  });
});
