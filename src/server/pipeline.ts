/**
 * The request pipeline, independent of the transport (DESIGN.md, "The
 * request path"):
 *
 *   transport (HTTP request | WebSocket message) → NeutralRequest
 *     → observe → limits → public routes → body → ┬ admin.sock: inflate → admin listener
 *                                                 └ hush.sock, TCP: join → authenticate → sign → rate → inflate → route
 *     → Ctx.answer (status, body, headers) → transport
 *
 * Each stage is a small function `(c, next)` with one job, composed
 * once per listener (like hono's middleware, but `next` takes the context,
 * so nothing is allocated per request for the chain). A stage answers by
 * setting `c.answer` and returning without calling `next`; stages that
 * work on the answer (sign, observe) do so after `next(c)` is done. No stage
 * knows which transport it serves: the HTTP adapter (app.ts) reads the
 * body, checks the target and builds the Response; a WebSocket adapter
 * hands in the same NeutralRequest and gets the same answer.
 *
 * Routes are one declarative table (routes.ts): method, path pattern, role,
 * handler. Handlers may be async (a store behind Redis awaits).
 * @module
 */
import { randomBytes, toB64u, type KeyedHmac } from "../crypto/index.ts";
import type { KeyGeneration } from "../auth/index.ts";
import type { KeyRecord } from "../broker/index.ts";
import type { Answer } from "./http.ts";
import type { State } from "./state.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { ROUTES, type Route } from "./routes.ts";
import { bodyStage, EMPTY, limits, observe, publicRoutes } from "./stages.ts";
import { adminListener, authenticate, join, rate, route, sign } from "./stages-signed.ts";
import { inflate } from "./inflate.ts";

/**
 * Where a request arrived: `worker` = hush.sock, `tcp` = the TCP listener
 * (TLS, or plain HTTP on loopback; same routes as hush.sock), `admin` =
 * admin.sock (connecting is the authorisation; nothing is signed).
 */
export type Listener = "worker" | "tcp" | "admin";

/** What a transport's body reader gives: the bytes, or why there are none. */
export type BodyRead = Uint8Array | "too_large" | "timeout" | "aborted";

/** A request as every transport hands it to the pipeline. */
export interface NeutralRequest {
  /** Upper-case method: GET, PUT, POST, DELETE, … */
  method: string;
  /**
   * Path and query as signed (PROTOCOL.md §3, "Targets and names"), e.g.
   * `/v1/kv?prefix=a`; null when the transport could not make one (HTTP: a
   * missing or malformed Host header).
   */
  target: string | null;
  /** The headers the pipeline reads, flat (one object per request): `Authorization` (§3), */
  authorization: string | null;
  /**
   * The client's `X-Request-Id`. Never used as the corr_id, and never
   * logged: the masker writes a logged string that equals a form of a secret
   * as `***`, so a client-chosen id in the log would confirm guesses of
   * secret values to whoever can send requests and read the log
   * (SECURITY.md, "Information disclosure"). Every answer carries the
   * daemon's own corr_id instead. */
  requestId: string | null;
  /** and `Content-Type`, which is not checked (PROTOCOL.md §1) but carried for the handlers. */
  contentType: string | null;
  /** `Content-Encoding` of the body (inflate.ts): absent or null = none. */
  contentEncoding?: string | null;
  /**
   * The body bytes, or the transport's reader for them: called once, after
   * the refusals that need no body (in-flight cap, unknown path, health),
   * and bound by the transport to the body cap and the request deadline.
   */
  body: Uint8Array | (() => Promise<BodyRead>);
  listener: Listener;
  /** The source address (join rate limits per source), or "unix". */
  peer: string;
  /** A transport's own message id (WebSocket), echoed by that transport. */
  id?: string;
}

/** The per-request context the stages and handlers share. */
export interface Ctx {
  readonly st: State;
  readonly m: ServerMetrics;
  readonly req: NeutralRequest;
  readonly corrId: string;
  /** The phase when the request arrived: one accepted before a SIGTERM completes even if its body arrives during the drain. */
  readonly phase: State["phase"];
  /** performance.now() at arrival (ms). */
  readonly t0: number;
  /** Set by `limits`: the target's path and query ("" or "?…"), and the path split on "/" (parts[1] = "v1"). */
  path: string;
  search: string;
  parts: string[];
  /** The route table's area of the path (routes.ts `areaOf`). */
  area: string;
  /** The metrics label (metrics.ts `routeLabel`): a closed vocabulary. */
  label: string;
  /** The request body once read (zero-filled when the request ends). */
  body: Uint8Array;
  /** Who is asking: a key id, "admin-socket", or "" before authentication. */
  actor: string;
  /**
   * Set by `authenticate`: the key, the request's Signature, which MAC key
   * generation matched, and an HMAC keyed with that MAC key (src/crypto/mac.ts
   * `fork`), which signs the answer.
   */
  key: KeyRecord | undefined;
  signature: string;
  generation: KeyGeneration | undefined;
  mac: KeyedHmac | undefined;
  /** The request reached the route table (a refusal before routing carries no Hush-Rekey-After). */
  routed: boolean;
  /**
   * The request counts as use for `--idle-timeout` (idle.ts): set for an
   * authenticated request to a route that is not `passive`, and for a join
   * (which counts only when it succeeds).
   */
  active: boolean;
  answer: Answer | undefined;
}

/**
 * Stages and handlers may be asynchronous, but need not be: a stage returns
 * `next(c)` (a promise only if something downstream waited), and a stage
 * that works after `next` does so at once for a synchronous result and in a
 * small async helper for a promise. A request that waits for nothing (a
 * signed GET against the in-memory store) runs without a single microtask.
 */
export type Next = (c: Ctx) => Promise<void> | void;
export type Stage = (c: Ctx, next: Next) => Promise<void> | void;

const END: Next = () => {};

/** Chain stages into one function; built once, so a request allocates nothing for the chain. */
export function compose(stages: readonly Stage[]): Next {
  let next = END;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i];
    const inner = next;
    next = (c) => stage(c, inner);
  }
  return next;
}

const bootId = toB64u(randomBytes(6));
let seq = 0;

function newCtx(st: State, m: ServerMetrics, req: NeutralRequest): Ctx {
  return {
    st,
    m,
    req,
    // Always the daemon's own: never the client's X-Request-Id (see NeutralRequest.requestId).
    corrId: `${bootId}-${(++seq).toString(36)}`,
    phase: st.phase,
    t0: performance.now(),
    path: "",
    search: "",
    parts: [],
    area: "",
    label: "unknown",
    body: EMPTY,
    actor: "",
    key: undefined,
    signature: "",
    generation: undefined,
    mac: undefined,
    routed: false,
    active: false,
    answer: undefined,
  };
}

export interface PipelineOptions {
  metrics?: ServerMetrics;
  /** The route table (tests swap in their own); default routes.ts ROUTES. */
  routes?: readonly Route[];
}

/** A listener's pipeline, in two steps so a transport can keep the context without an extra promise. */
export interface Pipeline {
  /** The context of a new request (its corr_id, its arrival phase and time). */
  start(req: NeutralRequest): Ctx;
  /** Run the stages: afterwards `c.answer` is set. A promise only when a stage had to wait. Never throws or rejects. */
  run(c: Ctx): Promise<void> | void;
}

/**
 * The pipeline of one listener. A request that waits for nothing (no body
 * to read, a synchronous handler) runs without a promise or a microtask.
 */
export function createPipeline(st: State, listener: Listener, opts: PipelineOptions = {}): Pipeline {
  const m = opts.metrics ?? createServerMetrics(st);
  const routes = opts.routes ?? ROUTES;
  const tail = listener === "admin" ? [inflate(), adminListener(routes)] : [join(routes), authenticate(), sign(), rate(), inflate(), route(routes)];
  return { start: (req) => newCtx(st, m, req), run: compose([observe(), limits(), publicRoutes(routes), bodyStage(), ...tail]) };
}

/** Run one request to its finished context (tests, and transports that need no speed). */
export async function answer(p: Pipeline, req: NeutralRequest): Promise<Ctx> {
  const c = p.start(req);
  await p.run(c);
  return c;
}
