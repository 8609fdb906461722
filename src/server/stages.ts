/**
 * The stages every listener runs before it knows who is asking
 * (pipeline.ts): `observe` (in-flight count, metrics, last-resort error
 * mapping), `limits` (in-flight cap, target), `publicRoutes` (health, ready) and `bodyStage`
 * (body cap and deadline, daemon phase). Refusals here are never signed:
 * nothing has been verified yet (PROTOCOL.md §4).
 * @module
 */
import { wipe } from "../crypto/index.ts";
import { answerError, fail, type Answer } from "./http.ts";
import type { BodyRead, Ctx, Next, Stage } from "./pipeline.ts";
import { areaOf, compileRoutes, matchRoute, type Route, type Row } from "./routes.ts";
import { routeLabel } from "./metrics.ts";
import { logQuietly } from "./change.ts";
import { parseEncoding } from "./inflate.ts";

/** The empty body (shared; never wiped). */
export const EMPTY = new Uint8Array(0);

/**
 * Outermost: counts the request in flight (`hush_in_flight`) until it is
 * answered, maps anything thrown to its error answer (unsigned; `internal`
 * is logged with its stack), counts `hush_requests_total{route,code}` and
 * the duration, and zero-fills the request body.
 */
export function observe(): Stage {
  return function observe(c, next) {
    c.st.inFlight++;
    let r: Promise<void> | void = undefined;
    try {
      r = next(c);
    } catch (e) {
      mapError(c, e);
    }
    if (r) return observeLater(c, r);
    finish(c);
  };
}

async function observeLater(c: Ctx, p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (e) {
    mapError(c, e);
  }
  finish(c);
}

function mapError(c: Ctx, e: unknown): void {
  c.answer = answerError(e, c.corrId);
  if (c.answer.status === 500) logQuietly(c, "internal error", e);
}

function finish(c: Ctx): void {
  if (!c.answer) mapError(c, new Error("the pipeline gave no answer"));
  c.st.inFlight--;
  // Use, for --idle-timeout (idle.ts): a join only when it succeeded (a bad token keeps nothing alive).
  if (c.active && (c.label !== "join" || c.answer!.status === 200)) c.st.lastActiveAt = Date.now();
  if (c.body.length !== 0) wipe(c.body);
  c.m.requests.inc({ route: c.label, code: String(c.answer!.status) });
  c.m.duration.observe((performance.now() - c.t0) / 1000);
}

/**
 * The in-flight cap (`busy`, before anything else is looked at), then the
 * target: none (`invalid_request`, connection closed) or outside `/v1/` and
 * `/metrics` (`not_found`). Sets the path fields, area and metrics label.
 */
export function limits(): Stage {
  return function limits(c, next) {
    const st = c.st;
    if (st.inFlight > st.config.maxInFlight) {
      c.m.rejected.inc({ reason: "in_flight" });
      c.answer = fail("busy", "too many requests in flight", c.corrId);
      return;
    }
    const target = c.req.target;
    if (target === null) {
      // HTTP: a missing or malformed Host header (Bun builds req.url from it).
      c.m.rejected.inc({ reason: "bad_target" });
      c.answer = { ...fail("invalid_request", "malformed request target or Host header", c.corrId), close: true };
      return;
    }
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    c.path = path;
    c.search = q < 0 ? "" : target.slice(q);
    const parts = (c.parts = path.split("/"));
    c.area = areaOf(parts);
    c.label = routeLabel(parts);
    if (parts[1] !== "v1" && path !== "/metrics") {
      c.answer = fail("not_found", "no such route", c.corrId);
      return;
    }
    return next(c);
  };
}

/** The `public` rows of the table (health, ready), answered before the body is read. Another method goes on (to authentication). */
export function publicRoutes(routes: readonly Route[]): Stage {
  const table = compileRoutes(routes, ["public"]);
  return function publicRoutes(c, next) {
    const hit = matchRoute(table.get(c.area), c.parts, c.req.method);
    return typeof hit === "object" ? answerWith(c, hit) : next(c);
  };
}

/** Set `c.answer` from a row's handler; a promise only when the handler is async. */
export function answerWith(c: Ctx, row: Row): Promise<void> | void {
  const a = row.handler(c);
  if (a instanceof Promise) return answerLater(c, a);
  c.answer = a;
}

export async function answerLater(c: Ctx, p: Promise<Answer>): Promise<void> {
  c.answer = await p;
}

/**
 * The body: over the cap → `too_large`; late or abandoned → `invalid_request`
 * with the connection closed (the transport's reader enforces the deadline).
 * Then the daemon's phase at arrival: not serving → `unavailable` (but
 * `GET /v1/status` is answered while draining).
 */
export function bodyStage(): Stage {
  return function body(c, next) {
    const src = c.req.body;
    return typeof src === "function" ? readThenCheck(c, src, next) : checkBody(c, src, next);
  };
}

async function readThenCheck(c: Ctx, read: () => Promise<BodyRead>, next: Next): Promise<void> {
  return checkBody(c, await read(), next);
}

function checkBody(c: Ctx, b: BodyRead, next: Next): Promise<void> | void {
  const { st, m } = c;
  if (b === "aborted") {
    // The client hung up mid-body or sent broken framing: its fault, not ours.
    m.rejected.inc({ reason: "body_aborted" });
    c.answer = { ...fail("invalid_request", "the request body could not be read", c.corrId), close: true };
    return;
  }
  if (b === "timeout") {
    m.rejected.inc({ reason: "timeout" });
    c.answer = { ...fail("invalid_request", `request body not received within ${st.config.requestTimeoutMs} ms`, c.corrId), close: true };
    return;
  }
  const max = st.config.limits.maxBodyBytes;
  if (b !== "too_large") c.body = b;
  if (b === "too_large" || b.length > max) {
    m.rejected.inc({ reason: "body_too_large" });
    c.answer = fail("too_large", `body over ${max} bytes`, c.corrId);
    return;
  }
  // Inflated after authentication (inflate.ts); an encoding it cannot take, or on a join, is refused now.
  const enc = parseEncoding(c.req.contentEncoding);
  if (enc === null || (enc !== "identity" && c.label === "join")) {
    m.rejected.inc({ reason: "encoding" });
    c.answer = fail("invalid_request", enc === null ? "unsupported Content-Encoding (gzip, zstd or none)" : "a join body cannot be compressed", c.corrId);
    return;
  }
  // `GET /v1/status` still answers while draining: saying so is its job.
  if (c.phase !== "serving" && !(c.phase === "draining" && c.label === "status" && c.req.method === "GET")) {
    c.answer = fail("unavailable", `daemon is ${c.phase}`, c.corrId);
    return;
  }
  return next(c);
}
