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

  return async function fetch(req: Request): Promise<Response> {
    const t0 = performance.now();
    const corrId = corrIdOf(req);
    const method = req.method;
    let route = "unknown";
    let answer: Answer;
    let sigHeader: Record<string, string> | undefined;
    let body: Uint8Array | undefined;
    st.inFlight++;
    try {
      if (st.inFlight > st.config.maxInFlight) {
        m.rejected.inc({ reason: "in_flight" });
        answer = fail("busy", "too many requests in flight", corrId);
        return toResponse(answer, corrId);
      }
      const url = new URL(req.url);
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
        answer = st.phase === "serving" ? ok({ ready: true }) : fail("unavailable", st.phase, corrId);
        return toResponse(answer, corrId);
      }
      const read = await readBody(req, maxBody);
      if (read === null) {
        m.rejected.inc({ reason: "body_too_large" });
        answer = fail("too_large", `body over ${maxBody} bytes`, corrId);
        return toResponse(answer, corrId);
      }
      body = read;
      if (st.phase !== "serving") {
        answer = fail("unavailable", `daemon is ${st.phase}`, corrId);
        return toResponse(answer, corrId);
      }

      if (role === "admin") {
        if (path === "/metrics" && method === "GET") {
          return new Response(st.metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4", "x-request-id": corrId } });
        }
        if (parts[2] !== "admin") throw new HushError("not_found", "no such route on the admin socket");
        answer = routeAdmin(st, method, parts, body);
        return toResponse(answer, corrId);
      }

      // Worker listener: everything below is authenticated.
      const target = path + url.search;
      const v = st.verifier.verify(method, target, req.headers.get("authorization"), hashBody(body));
      if (!v.ok) {
        m.authFailures.inc({ reason: v.reason });
        st.log.warn("authentication failed", { corr_id: corrId, reason: v.reason, key_id: v.keyId, route });
        answer = v.reason === "nonce_cache_full" ? fail("busy", "replay cache full, try again", corrId) : fail("auth_failed", "authentication failed", corrId);
        return toResponse(answer, corrId);
      }
      v.key.lastSeenAt = Date.now();
      try {
        answer = routeWorker({ store: st.store, key: v.key }, method, parts, url.search, body);
      } catch (e) {
        answer = answerError(e, corrId);
        if (answer.status === 500) st.log.error("internal error", { corr_id: corrId, route, err: String((e as Error)?.stack ?? e) });
      }
      sigHeader = { "hush-signature": signResponse(v.key.macKey, v.signature, answer.status, answer.body) };
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
