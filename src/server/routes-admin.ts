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
import { after, type Awaitable, type KeyRecord, type StoreStats } from "../broker/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskCredential, maskOwner } from "./masking.ts";
import { requireAudit, runChange, type ChangeRecord } from "./change.ts";

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

/** The verb of a `POST` to an admin collection, which makes one: `POST /v1/admin/workers` is `admin.workers.issue`. */
const MAKES: Readonly<Record<string, string>> = { workers: "issue", admins: "issue", tokens: "create" };

/**
 * The audit record of an admin change: `admin.<area>.<verb>` (PROTOCOL.md
 * §9.5), naming the id in the path, or else `made` (the id of what it made).
 */
export function adminRecord(c: Ctx, made?: string): ChangeRecord {
  const area = c.parts[3] ?? "";
  const makes = c.req.method === "POST" && c.parts.length === 4 && Object.hasOwn(MAKES, area) ? `.${MAKES[area]}` : "";
  const action = "admin." + c.parts.slice(3).filter((p, i) => i === 0 || !/^[wat]_|^s_/.test(p)).join(".") + makes;
  const target = c.parts.slice(4).find((p) => /^[wat]_|^s_/.test(p));
  return { action, target: target ?? made };
}

/**
 * Run an admin change (`isAdminChange`): refused while the audit sink
 * cannot write (`unavailable`). Its handler records success through
 * `runChange` (src/server/change.ts); a refusal or failure is recorded here
 * (`result: "error"`, the error code).
 */
export function auditAdminChange(c: Ctx, run: () => Answer | Promise<Answer>): Answer | Promise<Answer> {
  requireAudit(c.st.audit);
  try {
    const a = run();
    return a instanceof Promise ? a.catch((e) => auditRefusal(c, e)) : a;
  } catch (e) {
    return auditRefusal(c, e);
  }
}

function auditRefusal(c: Ctx, e: unknown): never {
  const { action, target } = adminRecord(c);
  try {
    c.st.audit.record({ actor: c.actor, via: "admin", action, target, result: "error", reason: e instanceof HushError ? e.code : "internal", corr_id: c.corrId });
  } catch {}
  throw e;
}

/** `GET /v1/admin/admins` */
export function adminsList(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.registry.refresh(), () => ok({ admins: c.st.registry.list().filter((k) => k.kind === "admin") }));
}

/** `POST /v1/admin/admins` (role `owner`): only the OS user (admin socket) mints admin keys. */
export function adminsCreate(c: Ctx): Answer | Promise<Answer> {
  const b = parseObject(c.body);
  return issueKey(c, "admin", { name: b.name, ttlMs: optInt(b, "ttl_ms") });
}

/** Issue a key as a recorded change: made and minted in `apply`, taken back (record and mask gone) if it cannot be recorded. */
function issueKey(c: Ctx, kind: "worker" | "admin", opts: { name: unknown; tags?: unknown; ttlMs?: number }): Answer | Promise<Answer> {
  const { st, actor } = c;
  return runChange(c, {
    apply: () => {
      const rec = st.registry.create({ kind, ...opts, via: "issue" });
      try {
        return { rec, credential: mintCredential(st, rec) };
      } catch (e) {
        st.masker.release(maskOwner.key(rec.id));
        st.registry.discard(rec.id);
        throw e;
      }
    },
    undo: ({ rec }) => {
      st.masker.release(maskOwner.key(rec.id));
      st.registry.discard(rec.id);
    },
    log: ({ rec }) => st.log.info(`${kind} key issued`, { [kind]: rec.id, name: rec.name, actor }),
    records: ({ rec }) => [adminRecord(c, rec.id)],
    answer: ({ rec, credential }) => ok({ ...st.registry.info(rec), credential }, 201),
  });
}

/** `GET /v1/admin/stats` */
export function stats(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.store.stats(), (store) => ok(collectStats(c.st, store)));
}

/** `GET /metrics`: Prometheus text; on admin.sock with `X-Request-Id` only (`kind: "text"`). */
export function metricsText(c: Ctx): Answer {
  const headers = { "content-type": "text/plain; version=0.0.4" };
  return { status: 200, body: c.st.metrics.render(), headers, kind: c.actor === "admin-socket" ? "text" : undefined };
}

/** `GET /v1/admin/workers` */
export function workersList(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.registry.refresh(), () => ok({ workers: c.st.registry.list().filter((k) => k.kind === "worker") }));
}

/** `POST /v1/admin/workers`: issue a worker key; the credential is in this answer only. */
export function workersIssue(c: Ctx): Answer | Promise<Answer> {
  const b = parseObject(c.body);
  return issueKey(c, "worker", { name: b.name, tags: b.tags, ttlMs: optInt(b, "ttl_ms") });
}

/** `POST /v1/admin/workers/{id}/revoke` (worker and admin keys): recorded first, then revoked (a revoke cannot be taken back). */
export function workerRevoke(c: Ctx): Answer | Promise<Answer> {
  const { st, actor, corrId } = c;
  const id = decodeSegment(c.parts[4], "worker id");
  return runChange(c, {
    apply: () =>
      after(currentKey(st, id), (rec) => {
        if (!rec) throw new HushError("not_found", `no key with id ${id}`);
        return rec;
      }),
    log: (rec) => st.log.info("worker key revoked", { worker: rec.id, actor }),
    records: () => [adminRecord(c)],
    // Ends its credential leases, locks and pool slots too (src/server/revoke.ts).
    commit: () => st.registry.revoke(id, { reason: "revoked", actor, corrId }),
    answer: (rec) => ok(st.registry.info(rec)),
  });
}

/** `POST /v1/admin/workers/{id}/rotate`: demand a rekey (`rekey_required` until the worker rekeys). */
export function workerRotate(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "worker id");
  return runChange(c, {
    apply: () =>
      after(currentKey(st, id), (rec) => {
        if (rec?.kind === "admin") throw new HushError("not_found", `${id} is an admin key; admin keys cannot be rotated (revoke it and issue a new one)`);
        if (!rec || rec.revokedAt !== null || rec.kind !== "worker") throw new HushError("not_found", `no active worker key with id ${id}`);
        return { rec, was: st.registry.demandRekey(rec) };
      }),
    undo: ({ rec, was }) => st.registry.undoDemand(rec, was),
    log: ({ rec }) => st.log.info("worker rekey demanded", { worker: rec.id, actor }),
    records: () => [adminRecord(c)],
    answer: ({ rec }) => ok(st.registry.info(rec)),
  });
}

/** The record of key `id` as it is now: fetched from a shared backend (another daemon may have changed it), else this daemon's. */
function currentKey(st: State, id: string): Awaitable<KeyRecord | undefined> {
  return st.registry.fetch(id) ?? st.registry.get(id);
}

/** The daemon's counters; `store`: the backend's (the whole cluster's, on a shared backend). */
export function collectStats(st: State, store: StoreStats) {
  return {
    version: st.version,
    uptime_ms: Date.now() - st.startedAt,
    backend: st.store.kind,
    store,
    workers: st.registry.count("worker"),
    admins: st.registry.count("admin"),
    tokens: st.tokens.count(),
    server_key: encodeServerPublic(st.serverKeys.active.publicKey),
    nonce_cache: st.verifier.nonces.size,
    in_flight: st.inFlight,
  };
}
