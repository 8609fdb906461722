/**
 * Admin routes (`/v1/admin/…`, PROTOCOL.md §8), reached through the
 * owner-only admin socket or with a signed admin credential. Secrets (a new
 * credential or join token) are shown once, in the answer to the request
 * that made them, and never logged.
 * @module
 */
import { HushError } from "../errors.ts";
import { encodeCredential, encodeServerPublic } from "../keys/index.ts";
import type { KeyRecord } from "../broker/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import { routeServerKey, routeTokens } from "./routes-admin-keys.ts";
import { routeAdminCreds } from "./routes-creds.ts";
import { routeAuditHash } from "./routes-audit.ts";
import { maskCredential } from "./masking.ts";

const NO_ROUTE = () => new HushError("not_found", "no such admin route");

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

/**
 * Route an admin request. Every change (anything but GET) is audited with
 * its outcome; changes are refused while the audit sink cannot write.
 */
export function routeAdmin(st: State, method: string, parts: string[], body: Uint8Array, actor: string, corrId = ""): Answer {
  if (method === "GET" || parts[3] === "creds" || parts[3] === "audit") return routeAdminInner(st, method, parts, body, actor, corrId);
  const action = "admin." + parts.slice(3).filter((p, i) => i === 0 || !/^[wat]_|^s_/.test(p)).join(".");
  const target = parts.slice(4).find((p) => /^[wat]_|^s_/.test(p));
  if (!st.audit.healthy) throw new HushError("unavailable", "the audit log cannot be written; refusing until it recovers");
  try {
    const a = routeAdminInner(st, method, parts, body, actor, corrId);
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

const METHODS: Record<string, string[]> = { admins: ["GET", "POST"], stats: ["GET"], audit: ["GET"], "audit/hash": ["POST"], workers: ["GET", "POST"], tokens: ["GET", "POST"] };

/** A known admin path with a method it does not take: invalid_request (PROTOCOL.md §1: there is no 405). */
function checkMethod(method: string, parts: string[]): void {
  let allowed: string[] | undefined;
  if (parts[1] === "metrics" && parts.length === 2) allowed = ["GET"];
  else if (parts.length === 4) allowed = parts[3] === "server-key" ? ["GET"] : parts[3] === "creds" ? ["GET", "POST"] : METHODS[parts[3]];
  else if (parts.length === 5 && parts[3] === "audit" && parts[4] === "hash") allowed = METHODS["audit/hash"];
  else if (parts.length === 5 && (parts[3] === "server-key" || parts[3] === "creds")) allowed = parts[3] === "creds" ? ["DELETE"] : ["POST"];
  else if (parts.length === 6 && (parts[3] === "workers" || parts[3] === "tokens") && (parts[5] === "revoke" || parts[5] === "rotate")) allowed = ["POST"];
  if (allowed && !allowed.includes(method)) throw new HushError("invalid_request", "method not allowed on this route");
}

function routeAdminInner(st: State, method: string, parts: string[], body: Uint8Array, actor: string, corrId: string): Answer {
  checkMethod(method, parts);
  const area = parts[3];
  if (area === "creds") return routeAdminCreds(st, method, parts, body, actor, corrId);
  if (area === "workers") return routeWorkers(st, method, parts, body, actor, corrId);
  if (area === "tokens") return routeTokens(st, method, parts, body, actor);
  if (area === "server-key") return routeServerKey(st, method, parts, actor);
  if (area === "admins" && parts.length === 4 && method === "GET") return ok({ admins: st.registry.list().filter((k) => k.kind === "admin") });
  if (area === "admins" && parts.length === 4 && method === "POST") {
    // Only the OS user (admin socket) mints admin keys: a leaked admin credential cannot mint more.
    if (actor !== "admin-socket") throw new HushError("forbidden", "admin keys are issued on the admin socket only");
    const b = parseObject(body);
    const rec = st.registry.create({ kind: "admin", name: b.name, ttlMs: optInt(b, "ttl_ms"), via: "issue" });
    st.log.info("admin key issued", { admin: rec.id, name: rec.name, actor });
    return ok({ ...st.registry.info(rec), credential: mintCredential(st, rec) }, 201);
  }
  if (area === "stats" && parts.length === 4 && method === "GET") return ok(collectStats(st));
  if (area === "audit" && parts.length === 5 && parts[4] === "hash" && method === "POST") return routeAuditHash(st, body);
  throw NO_ROUTE();
}

function routeWorkers(st: State, method: string, parts: string[], body: Uint8Array, actor: string, corrId: string): Answer {
  if (parts.length === 4) {
    if (method === "GET") return ok({ workers: st.registry.list().filter((k) => k.kind === "worker") });
    if (method === "POST") {
      const b = parseObject(body);
      const rec = st.registry.create({ kind: "worker", name: b.name, tags: b.tags, ttlMs: optInt(b, "ttl_ms"), via: "issue" });
      st.log.info("worker key issued", { worker: rec.id, name: rec.name, actor });
      return ok({ ...st.registry.info(rec), credential: mintCredential(st, rec) }, 201);
    }
  }
  if (parts.length === 6 && method === "POST") {
    const id = decodeSegment(parts[4], "worker id");
    if (parts[5] === "revoke") {
      // Ends its credential leases, locks and pool slots too (src/server/revoke.ts).
      const rec = st.registry.revoke(id, { reason: "revoked", actor, corrId });
      st.log.info("worker key revoked", { worker: rec.id, actor });
      return ok(st.registry.info(rec));
    }
    if (parts[5] === "rotate") {
      const rec = st.registry.get(id);
      if (!rec || rec.revokedAt !== null || rec.kind !== "worker") throw new HushError("not_found", `no active worker key with id ${id}`);
      rec.rekeyRequired = true;
      st.log.info("worker rekey demanded", { worker: rec.id, actor });
      return ok(st.registry.info(rec));
    }
  }
  throw NO_ROUTE();
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
