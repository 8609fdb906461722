/**
 * Admin routes (`/v1/admin/…`, `/metrics`, PROTOCOL.md §8), reached through
 * the owner-only admin socket or with a signed admin credential (rows in
 * routes.ts). Every change (anything but GET) is audited with its outcome
 * and refused while the audit sink cannot write. Secrets (a new credential
 * or join token) are shown once, in the answer to the request that made
 * them, and never logged.
 * @module
 */
import { HushError } from "../errors.ts";
import { encodeCredential, encodeServerPublic } from "../keys/index.ts";
import type { KeyRecord } from "../broker/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskCredential } from "./masking.ts";

/** The credential string for a key record (shown once; registered with the masker). */
export function mintCredential(st: State, rec: KeyRecord): string {
  const s = encodeCredential({
    kind: rec.kind,
    keyId: rec.id,
    macKey: rec.macKey,
    encKey: rec.encKey,
    serverPublic: st.serverKeys.active.publicKey,
    tlsPin: st.tlsPin,
  });
  maskCredential(st, rec, s);
  return s;
}

/** Whether an admin-area request changes something: anything but GET, except creds (audited per value) and audit (changes nothing). */
export function isAdminChange(c: Ctx): boolean {
  return c.req.method !== "GET" && c.parts[3] !== "creds" && c.parts[3] !== "audit";
}

/**
 * Run an admin change (`isAdminChange`) under the audit: refused while the
 * audit sink cannot write (`unavailable`), recorded with its outcome.
 */
export async function auditAdminChange(c: Ctx, run: () => Answer | Promise<Answer>): Promise<Answer> {
  const { st, parts, actor, corrId } = c;
  const action = "admin." + parts.slice(3).filter((p, i) => i === 0 || !/^[wat]_|^s_/.test(p)).join(".");
  const target = parts.slice(4).find((p) => /^[wat]_|^s_/.test(p));
  if (!st.audit.healthy) throw new HushError("unavailable", "the audit log cannot be written; refusing until it recovers");
  try {
    const a = await run();
    let made: string | undefined;
    try {
      made = JSON.parse(a.body).id;
    } catch {}
    st.audit.record({ actor, via: "admin", action, target: target ?? made, result: "ok", corr_id: corrId });
    return a;
  } catch (e) {
    st.audit.record({ actor, via: "admin", action, target, result: "error", reason: e instanceof HushError ? e.code : "internal", corr_id: corrId });
    throw e;
  }
}

/** `GET /v1/admin/admins` */
export function adminsList(c: Ctx): Answer {
  return ok({ admins: c.st.registry.list().filter((k) => k.kind === "admin") });
}

/** `POST /v1/admin/admins` (role `owner`): only the OS user (admin socket) mints admin keys. */
export function adminsCreate(c: Ctx): Answer {
  const { st, actor } = c;
  const b = parseObject(c.body);
  const rec = st.registry.create({ kind: "admin", name: b.name, ttlMs: optInt(b, "ttl_ms"), via: "issue" });
  st.log.info("admin key issued", { admin: rec.id, name: rec.name, actor });
  return ok({ ...st.registry.info(rec), credential: mintCredential(st, rec) }, 201);
}

/** `GET /v1/admin/stats` */
export function stats(c: Ctx): Answer {
  return ok(collectStats(c.st));
}

/** `GET /metrics`: Prometheus text; on admin.sock with `X-Request-Id` only (`kind: "text"`). */
export function metricsText(c: Ctx): Answer {
  const headers = { "content-type": "text/plain; version=0.0.4" };
  return { status: 200, body: c.st.metrics.render(), headers, kind: c.actor === "admin-socket" ? "text" : undefined };
}

/** `GET /v1/admin/workers` */
export function workersList(c: Ctx): Answer {
  return ok({ workers: c.st.registry.list().filter((k) => k.kind === "worker") });
}

/** `POST /v1/admin/workers`: issue a worker key; the credential is in this answer only. */
export function workersIssue(c: Ctx): Answer {
  const { st, actor } = c;
  const b = parseObject(c.body);
  const rec = st.registry.create({ kind: "worker", name: b.name, tags: b.tags, ttlMs: optInt(b, "ttl_ms"), via: "issue" });
  st.log.info("worker key issued", { worker: rec.id, name: rec.name, actor });
  return ok({ ...st.registry.info(rec), credential: mintCredential(st, rec) }, 201);
}

/** `POST /v1/admin/workers/{id}/revoke` (worker and admin keys) */
export function workerRevoke(c: Ctx): Answer {
  const { st, actor, corrId } = c;
  const id = decodeSegment(c.parts[4], "worker id");
  // Ends its credential leases, locks and pool slots too (src/server/revoke.ts).
  const rec = st.registry.revoke(id, { reason: "revoked", actor, corrId });
  st.log.info("worker key revoked", { worker: rec.id, actor });
  return ok(st.registry.info(rec));
}

/** `POST /v1/admin/workers/{id}/rotate`: demand a rekey (`rekey_required` until the worker rekeys). */
export function workerRotate(c: Ctx): Answer {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "worker id");
  const rec = st.registry.get(id);
  if (!rec || rec.revokedAt !== null || rec.kind !== "worker") throw new HushError("not_found", `no active worker key with id ${id}`);
  rec.rekeyRequired = true;
  st.log.info("worker rekey demanded", { worker: rec.id, actor });
  return ok(st.registry.info(rec));
}

export function collectStats(st: State) {
  return {
    version: st.version,
    uptime_ms: Date.now() - st.startedAt,
    store: st.store.stats(),
    workers: st.registry.count("worker"),
    admins: st.registry.count("admin"),
    tokens: st.tokens.count(),
    server_key: encodeServerPublic(st.serverKeys.active.publicKey),
    nonce_cache: st.verifier.nonces.size,
    in_flight: st.inFlight,
  };
}
