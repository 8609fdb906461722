/**
 * The request pipeline shared by every listener:
 * corr_id → in-flight cap → body cap → authentication (worker listener) →
 * route → error mapping → response signature → metrics.
 *
 * Invariant 4: every route except health, ready (and join) is
 * authenticated on the worker listener; a failure answers the generic
 * `auth_failed`, the precise reason goes to logs and metrics only.
 * @module
 */
import { HushError } from "../errors.ts";
import { randomBytes, toB64u, wipe } from "../crypto/index.ts";
import { hashBody, signResponse } from "../auth/index.ts";
import type { State } from "./state.ts";
import { type Answer, answerError, fail, ok } from "./http.ts";
import { routeWorker } from "./routes-worker.ts";
import { routeAdmin } from "./routes-admin.ts";
import { handleJoin, handleRekey, JoinRefused } from "./routes-join.ts";
import { routeCreds } from "./routes-creds.ts";
import { auditStream } from "./routes-audit.ts";
import { createServerMetrics, routeLabel, type ServerMetrics } from "./metrics.ts";

export type Role = "worker" | "admin";

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const bootId = toB64u(randomBytes(6));
let seq = 0;

function corrIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  if (given && REQUEST_ID_RE.test(given)) return given;
  return `${bootId}-${(++seq).toString(36)}`;
}

function toResponse(a: Answer, corrId: string, extra?: Record<string, string>): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": corrId,
    "cache-control": "no-store",
    ...a.headers,
    ...extra,
  };
  return new Response(a.body, { status: a.status, headers });
}

const EMPTY = new Uint8Array(0);

/** `p`, or "timeout" after `ms` (the body of a slow client is not waited for). */
async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Read the body, refusing it past `max` bytes before it is buffered: a
 * declared Content-Length over the cap is refused unread, a chunked body is
 * cut as soon as it passes the cap. `null` = too large.
 */
async function readBody(req: Request, max: number): Promise<Uint8Array | null> {
  const declared = req.headers.get("content-length");
  if (declared !== null) {
    const n = Number(declared);
    if (!(n <= max)) return null;
    if (n === 0) return EMPTY;
    return new Uint8Array(await req.arrayBuffer());
  }
  if (!req.body) return EMPTY;
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      reader.cancel().catch(() => {});
      for (const c of chunks) c.fill(0);
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
    c.fill(0);
  }
  return out;
}

export function createFetch(st: State, role: Role, m: ServerMetrics = createServerMetrics(st)) {
  const maxBody = st.config.limits.maxBodyBytes;
  const metricsResponse = (corrId: string) =>
    new Response(st.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4", "x-request-id": corrId } });

  return async function fetch(req: Request, server?: { requestIP(r: Request): { address: string } | null }): Promise<Response> {
    const t0 = performance.now();
    const corrId = corrIdOf(req);
    const method = req.method;
    let route = "unknown";
    let answer: Answer;
    let sigHeader: Record<string, string> | undefined;
    let body: Uint8Array | undefined;
    // The phase when the request arrived: one accepted before a SIGTERM completes even if its body arrives during the drain.
    const phase = st.phase;
    st.inFlight++;
    try {
      if (st.inFlight > st.config.maxInFlight) {
        m.rejected.inc({ reason: "in_flight" });
        answer = fail("busy", "too many requests in flight", corrId);
        return toResponse(answer, corrId);
      }
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        // A missing or malformed Host header (Bun builds req.url from it).
        m.rejected.inc({ reason: "bad_target" });
        answer = fail("invalid_request", "malformed request target or Host header", corrId);
        return toResponse(answer, corrId, { connection: "close" });
      }
      const path = url.pathname;
      const parts = path.split("/");
      route = routeLabel(parts);
      if (parts[1] !== "v1" && path !== "/metrics") {
        answer = fail("not_found", "no such route", corrId);
        return toResponse(answer, corrId);
      }
      // Public routes.
      if (method === "GET" && path === "/v1/health") {
        answer = ok({ ok: true, version: st.version });
        return toResponse(answer, corrId);
      }
      if (method === "GET" && path === "/v1/ready") {
        answer =
          st.phase !== "serving" ? fail("unavailable", st.phase, corrId) : !st.audit.healthy ? fail("unavailable", "audit log cannot be written", corrId) : ok({ ready: true });
        return toResponse(answer, corrId);
      }
      let read: Uint8Array | null | "timeout";
      try {
        // No body (most GETs): nothing to wait for, so no deadline timer on the hot path.
        read = req.body === null ? EMPTY : await withDeadline(readBody(req, maxBody), st.config.requestTimeoutMs);
      } catch {
        // The client hung up mid-body or sent broken framing: its fault, not ours.
        m.rejected.inc({ reason: "body_aborted" });
        answer = fail("invalid_request", "the request body could not be read", corrId);
        return toResponse(answer, corrId, { connection: "close" });
      }
      if (read === "timeout") {
        m.rejected.inc({ reason: "timeout" });
        answer = fail("invalid_request", `request body not received within ${st.config.requestTimeoutMs} ms`, corrId);
        return toResponse(answer, corrId, { connection: "close" });
      }
      if (read === null) {
        m.rejected.inc({ reason: "body_too_large" });
        answer = fail("too_large", `body over ${maxBody} bytes`, corrId);
        return toResponse(answer, corrId);
      }
      body = read;
      if (phase !== "serving") {
        answer = fail("unavailable", `daemon is ${phase}`, corrId);
        return toResponse(answer, corrId);
      }

      if (role === "admin") {
        if (path === "/metrics" && method === "GET") {
          answer = { status: 200, body: "" };
          return metricsResponse(corrId);
        }
        if (parts[2] !== "admin") throw new HushError("not_found", "no such route on the admin socket");
        if (parts[3] === "audit" && parts.length === 4 && method === "GET") {
          answer = { status: 200, body: "" };
          return auditStream(st, url.search);
        }
        answer = routeAdmin(st, method, parts, body, "admin-socket", corrId);
        return toResponse(answer, corrId);
      }

      if (method === "POST" && path === "/v1/join") {
        const source = server?.requestIP(req)?.address ?? "unix";
        try {
          const j = handleJoin(st, body, source);
          answer = j.answer;
          m.joins.inc({ result: "ok" });
          st.audit.record({ actor: j.workerId, via: "join", action: "join", target: j.tokenId, result: "ok", corr_id: corrId });
        } catch (e) {
          if (e instanceof JoinRefused) {
            m.joins.inc({ result: "refused" });
            m.authFailures.inc({ reason: e.reason });
            st.log.warn("join refused", { corr_id: corrId, reason: e.reason, source });
            st.audit.record({ actor: source, via: "join", action: "join", result: "denied", reason: e.reason, corr_id: corrId });
          } else if (e instanceof HushError && e.code === "rate_limited") {
            m.joins.inc({ result: "rate_limited" });
            m.rejected.inc({ reason: "join_rate" });
            st.audit.record({ actor: source, via: "join", action: "join", result: "denied", reason: "rate_limited", corr_id: corrId });
          }
          throw e;
        }
        return toResponse(answer, corrId);
      }

      // Worker listener: everything below is authenticated.
      const target = path + url.search;
      const v = st.verifier.verify(method, target, req.headers.get("authorization"), hashBody(body));
      if (!v.ok) {
        m.authFailures.inc({ reason: v.reason });
        st.log.warn("authentication failed", { corr_id: corrId, reason: v.reason, key_id: v.keyId, route });
        st.audit.record({ actor: v.keyId ?? "unknown", via: "worker", action: "auth", target: route, result: "denied", reason: v.reason, corr_id: corrId });
        answer = v.reason === "nonce_cache_full" ? fail("busy", "replay cache full, try again", corrId) : fail("auth_failed", "authentication failed", corrId);
        return toResponse(answer, corrId);
      }
      const key = v.key;
      // The key that signed the request signs the answer (a rekey replaces key.macKey).
      // A copy: a clone verdict revokes the key (zero-filling it) before the answer is signed.
      const macKey = v.macKey.slice();
      if (v.generation === "retired" && route !== "rekey") {
        m.authFailures.inc({ reason: "retired_key" });
        st.log.warn("authentication failed", { corr_id: corrId, reason: "retired_key", key_id: key.id, route });
        st.audit.record({ actor: key.id, via: "worker", action: "auth", target: route, result: "denied", reason: "retired_key", corr_id: corrId });
        answer = fail("auth_failed", "authentication failed", corrId);
        return toResponse(answer, corrId);
      }
      key.lastSeenAt = Date.now();
      const wait = st.keyLimiter.take(key.id);
      if (wait > 0) {
        m.rejected.inc({ reason: "rate_limit" });
        st.audit.record({ actor: key.id, via: key.kind, action: "rate_limit", target: route, result: "denied", reason: "rate_limited", corr_id: corrId });
        answer = fail("rate_limited", "too many requests for this key", corrId, { "retry-after": String(wait) });
        return toResponse(answer, corrId, { "hush-signature": signResponse(macKey, v.signature, answer.status, answer.body) });
      }
      try {
        if (route === "rekey") {
          if (parts.length !== 3) throw new HushError("not_found", "no such route");
          if (method !== "POST") throw new HushError("invalid_request", "method not allowed on this route");
          answer = handleRekey(st, key, v.generation, body);
          st.audit.record({ actor: key.id, via: "worker", action: "rekey", target: key.id, result: "ok", corr_id: corrId });
        } else if (key.rekeyRequired && route !== "whoami") {
          answer = fail("rekey_required", "this key must be rotated (POST /v1/rekey) before further use", corrId);
        } else if (parts[2] === "admin" || route === "metrics") {
          if (key.kind !== "admin") throw new HushError("forbidden", "admin routes need an admin credential");
          if (parts[3] === "audit" && parts.length === 4 && method === "GET") {
            answer = { status: 200, body: "" };
            return auditStream(st, url.search); // streamed: unsigned (§4)
          }
          if (route === "metrics" && method === "GET") answer = { status: 200, body: st.metrics.render(), headers: { "content-type": "text/plain; version=0.0.4" } };
          else answer = routeAdmin(st, method, parts, body, key.id, corrId);
        } else {
          if (key.kind !== "worker" && route !== "whoami") throw new HushError("forbidden", "admin credentials are for admin routes only");
          if (parts[2] === "creds") {
            const encKey = v.generation === "previous" && key.prevEncKey ? key.prevEncKey : key.encKey;
            answer = routeCreds(st, key, encKey, v.signature, method, parts, body, corrId);
          }
          else answer = routeWorker({ store: st.store, key, serverPublic: st.serverKeys.active.publicKey }, method, parts, url.search, body);
        }
      } catch (e) {
        if (e instanceof JoinRefused) {
          m.authFailures.inc({ reason: e.reason });
          st.log.warn("rekey refused", { corr_id: corrId, reason: e.reason, key_id: key.id });
          st.audit.record({ actor: key.id, via: "worker", action: e.reason === "clone_suspected" ? "clone_suspected" : "rekey", target: key.id, result: "denied", reason: e.reason, corr_id: corrId });
        } else if (e instanceof HushError && e.code === "forbidden" && parts[2] !== "creds" && parts[2] !== "admin") {
          st.audit.record({ actor: key.id, via: key.kind, action: "policy", target: route, result: "denied", reason: "forbidden", corr_id: corrId });
        }
        answer = answerError(e, corrId);
        if (answer.status === 500) st.log.error("internal error", { corr_id: corrId, route, err: String((e as Error)?.stack ?? e) });
      }
      sigHeader = { "hush-signature": signResponse(macKey, v.signature, answer.status, answer.body) };
      macKey.fill(0);
      // Half-life hint for the SDK; none once the key already ends at the hard cap (a rekey could not extend it).
      if (key.revokedAt === null && key.expiresAt < key.hardExpiresAt) sigHeader["hush-rekey-after"] = String(key.expiresAt - Math.floor(key.ttlMs / 2));
      return toResponse(answer, corrId, sigHeader);
    } catch (e) {
      answer = answerError(e, corrId);
      if (answer.status === 500) st.log.error("internal error", { corr_id: corrId, route, err: String((e as Error)?.stack ?? e) });
      return toResponse(answer, corrId);
    } finally {
      st.inFlight--;
      if (body && body !== EMPTY) wipe(body);
      m.requests.inc({ route, code: String(answer!?.status ?? 500) });
      m.duration.observe((performance.now() - t0) / 1000);
    }
  };
}
