/**
 * The WebSocket transport (PROTOCOL.md §3.6) on hush.sock and the TCP
 * listener: `GET /v1/ws` upgrades; then every binary message is one signed
 * request (src/wire/frame.ts) that goes through the same pipeline as an
 * HTTP request (pipeline.ts: limits, authentication, replay cache, rate
 * limit, routes, response signature, audit, metrics), and is answered by one
 * message with the same id. Many requests may be in flight on a connection;
 * answers go out as they are ready, in any order.
 *
 * What only this transport does:
 *
 * - the frame: a text frame closes the connection (1003), a message without
 *   a readable id closes it (1002), a message over `--ws-max-message` is cut
 *   by Bun (1009); any other malformed message, or a target a URL parser
 *   would rewrite, is answered `invalid_request` under its id;
 * - its limits, each refused `busy` under the message's id: messages in
 *   flight on one connection (`--ws-max-in-flight`) and of one key
 *   (`--ws-max-in-flight-key`; counted only once the key has verified the
 *   message, so nobody can use up another key's share); connections in all
 *   (`--ws-max-connections`), per source, and unverified connections
 *   (ws-guard.ts: the upgrade is answered 503 `busy`);
 * - idle connections (no message for `--ws-idle`), and connections that
 *   carry no verified request (`--ws-verify-timeout`, ws-guard.ts), are
 *   closed with 4000;
 * - a message that fails while its source is over its failure budget
 *   (failures.ts: answered `rate_limited`; a malformed message is charged
 *   too) closes its connection with 4029, so a flood costs one message per
 *   connection once the budget is spent;
 * - a peer that does not read: unread answers are buffered up to
 *   `unreadLimit` per connection and for at most `MAX_UNREAD_CONNS`
 *   connections at once; past either, the connection is closed (1008);
 * - at stop every connection is closed: 4000 when none of its messages is in
 *   flight (a message the client sent but got no answer for was not
 *   processed: it may be sent again), else 1001;
 * - answers the transport cannot carry (the audit stream) get
 *   `invalid_request`: the stream is served over HTTP only.
 * @module
 */
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import { decodeRequest, encodeAnswer, type Headers } from "../wire/frame.ts";
import { canonicalTarget } from "../wire/target.ts";
import { fail, type Answer } from "./http.ts";
import type { State } from "./state.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Counter } from "../observe/index.ts";
import { createPipeline, type Ctx, type Listener, type Pipeline } from "./pipeline.ts";
import type { Route } from "./routes.ts";
import { WsGuard, isRefusal, type Guarded } from "./ws-guard.ts";

/** The upgrade path. */
export const WS_PATH = "/v1/ws";

/** Close codes (PROTOCOL.md §3.6). */
export const WS_CLOSE = {
  /** Stopping, with messages of this connection still in flight (their outcome is unknown). */
  goingAway: 1001,
  /** A message without a readable id. */
  protocol: 1002,
  /** A text frame. */
  unsupported: 1003,
  /** Answers the peer does not read (over the per-connection or the global bound). */
  unread: 1008,
  /** Closed by the daemon with nothing in flight: unanswered messages were not processed. */
  unprocessed: 4000,
  /** A failing message while the connection's source is over its failure budget (failures.ts). */
  failures: 4029,
} as const;

/** The unread answers one connection may hold, in bytes (Bun's backpressure limit). */
export const unreadLimit = (maxMessageBytes: number): number => Math.max(1 << 20, 2 * maxMessageBytes);

/** Connections that may hold unread answers at once (so at most 64 MiB with the default message size). */
export const MAX_UNREAD_CONNS = 32;

interface Conn extends Guarded {
  n: number;
  listener: Listener;
  peer: string;
  /** Messages received and not yet answered. */
  inFlight: number;
  /** Date.now() of the last message. */
  last: number;
  closing: boolean;
  /** Messages answered by the transport itself (their corr_id). */
  seq: number;
}

type Peer = Pick<Server<Conn>, "upgrade" | "requestIP">;
type Fetch = (req: Request, server: any) => Response | Promise<Response>;

export interface WsTransport {
  /** Bun.serve's fetch for one listener: upgrades `GET /v1/ws`, hands every other request to `http`. */
  fetch(listener: Listener, http: Fetch): (req: Request, server: Peer) => Response | Promise<Response> | undefined;
  /** Bun.serve's `websocket` option (shared by the listeners). */
  readonly websocket: WebSocketHandler<Conn>;
  /** Open connections. */
  readonly size: number;
  /** Close every connection (4000 or 1001, above) and stop the idle timer. */
  close(): void;
}

interface WsMetrics {
  closed: Counter;
}

const metricsCache = new WeakMap<State, WsMetrics>();

function wsMetrics(st: State, open: () => number): WsMetrics {
  let m = metricsCache.get(st);
  if (!m) {
    st.metrics.gauge("hush_ws_connections", "Open WebSocket connections.", open);
    m = { closed: st.metrics.counter("hush_ws_closed_total", "WebSocket connections closed by the daemon, by reason.") };
    metricsCache.set(st, m);
  }
  return m;
}

const CREDENTIAL = "HUSH1-HMAC-SHA256 Credential=";

/** The key id an Authorization header names (not verified; only looked up). */
function claimedKey(authorization: string | undefined): string | undefined {
  return authorization?.startsWith(CREDENTIAL) ? authorization.slice(CREDENTIAL.length, CREDENTIAL.length + 18) : undefined;
}

function jsonResponse(a: Answer, corrId: string): Response {
  return new Response(a.body, { status: a.status, headers: { "content-type": "application/json", "cache-control": "no-store", "x-request-id": corrId } });
}

export function createWsTransport(st: State, m: ServerMetrics, opts: { routes?: readonly Route[] } = {}): WsTransport {
  const lim = st.config.ws;
  const conns = new Set<ServerWebSocket<Conn>>();
  const perKey = new Map<string, number>();
  const guard = new WsGuard(lim, st.log);
  /** Connections with unread answers buffered (between a send that met backpressure and Bun's drain). */
  const unread = new Set<ServerWebSocket<Conn>>();
  const wm = wsMetrics(st, () => conns.size);
  const pipelines: Partial<Record<Listener, Pipeline>> = {};
  const pipelineOf = (l: Listener) => (pipelines[l] ??= createPipeline(st, l, { metrics: m, ...(opts.routes ? { routes: opts.routes } : {}) }));
  let connSeq = 0;

  function close(ws: ServerWebSocket<Conn>, code: number, reason: string, metric: string): void {
    if (ws.data.closing) return;
    ws.data.closing = true;
    wm.closed.inc({ reason: metric });
    ws.close(code, reason);
  }

  /** An answer from the transport itself (unsigned, like every refusal before verification). */
  function refuse(ws: ServerWebSocket<Conn>, id: string, a: (corrId: string) => Answer, reason: string): void {
    m.rejected.inc({ reason });
    const corrId = `ws${ws.data.n}.${++ws.data.seq}`;
    send(ws, id, a(corrId), corrId);
  }

  function send(ws: ServerWebSocket<Conn>, id: string, a: Answer, corrId: string): void {
    const headers: Headers = { "x-request-id": corrId };
    if (a.headers) for (const k in a.headers) headers[k] = a.headers[k]!;
    const sent = ws.send(encodeAnswer(id, a.status, headers, a.body));
    if (sent > 0 || ws.readyState !== 1) return;
    // Dropped (past the per-connection bound), or buffered while too many connections hold unread answers.
    if (sent === 0 || (!unread.has(ws) && unread.size >= MAX_UNREAD_CONNS)) close(ws, WS_CLOSE.unread, "too many unread answers", "backpressure");
    else unread.add(ws);
  }

  /** A message failed on `ws`: closes it (4029) when its source is over its failure budget. */
  function failed(ws: ServerWebSocket<Conn>, limited: boolean): void {
    guard.saw(ws.data, false);
    if (limited) close(ws, WS_CLOSE.failures, "too many failed requests from this source", "failures");
  }

  function reply(ws: ServerWebSocket<Conn>, id: string, c: Ctx): void {
    let a = c.answer!;
    if (a.kind === "stream") {
      a.stream?.cancel().catch(() => {});
      a = fail("invalid_request", "streams (the audit stream) are served over HTTP only", c.corrId);
    }
    send(ws, id, a, c.corrId);
  }

  function onMessage(ws: ServerWebSocket<Conn>, msg: string | Uint8Array): void {
    const conn = ws.data;
    if (conn.closing) return;
    conn.last = Date.now();
    if (typeof msg === "string") return close(ws, WS_CLOSE.unsupported, "binary frames only", "text_frame");
    const d = decodeRequest(msg);
    if (!d.ok) {
      if (d.id === null) return close(ws, WS_CLOSE.protocol, `malformed frame: ${d.error}`.slice(0, 120), "malformed");
      refuse(ws, d.id, (id) => fail("invalid_request", `malformed frame: ${d.error}`, id), "ws_malformed");
      return failed(ws, st.failures.take(conn.peer) > 0);
    }
    const f = d.frame;
    const target = canonicalTarget(f.target);
    if (target === null) {
      refuse(ws, f.id, (id) => fail("invalid_request", "the target is not in the form a URL parser leaves unchanged (PROTOCOL.md §3)", id), "ws_malformed");
      return failed(ws, st.failures.take(conn.peer) > 0);
    }
    if (conn.inFlight >= lim.maxInFlight) return refuse(ws, f.id, (id) => fail("busy", "too many messages in flight on this connection", id), "ws_in_flight");
    const h = f.headers;
    const claimed = perKey.size === 0 ? undefined : claimedKey(h.authorization);
    if (claimed !== undefined && (perKey.get(claimed) ?? 0) >= lim.maxInFlightPerKey) {
      return refuse(ws, f.id, (id) => fail("busy", "too many messages in flight for this key", id), "ws_in_flight_key");
    }
    const p = pipelineOf(conn.listener);
    const c = p.start({
      method: f.method,
      target,
      authorization: h.authorization ?? null,
      requestId: h["x-request-id"] ?? null,
      contentType: h["content-type"] ?? null,
      contentEncoding: h["content-encoding"] ?? null,
      body: f.body,
      listener: conn.listener,
      peer: conn.peer,
      id: f.id,
    });
    const wait = p.run(c);
    // Verified or not is known once run returns (authentication is synchronous).
    if (c.key) guard.saw(conn, true);
    if (!wait) {
      reply(ws, f.id, c);
      return settled(ws, c);
    }
    // Waiting (an async handler): in flight for the connection and, once verified, for its key.
    conn.inFlight++;
    const key = c.key?.id;
    if (key !== undefined) perKey.set(key, (perKey.get(key) ?? 0) + 1);
    void wait.then(() => {
      conn.inFlight--;
      if (key !== undefined) {
        const left = perKey.get(key)! - 1;
        if (left > 0) perKey.set(key, left);
        else perKey.delete(key);
      }
      if (ws.readyState !== 1) return;
      reply(ws, f.id, c);
      settled(ws, c);
    });
  }

  /** After the answer: a refusal of an unverified message counts against the connection (and may close it, 4029). */
  function settled(ws: ServerWebSocket<Conn>, c: Ctx): void {
    const status = c.answer?.status ?? 0;
    if (c.key || status < 400) return;
    // 401 and 429 were charged to the source by authentication; busy (503) is the daemon's limit, not the caller's doing.
    failed(ws, status === 429 || (status !== 401 && status !== 503 && st.failures.take(ws.data.peer) > 0));
  }

  const websocket: WebSocketHandler<Conn> = {
    maxPayloadLength: lim.maxMessageBytes,
    // A client that does not read its answers is cut off rather than buffered for.
    backpressureLimit: unreadLimit(lim.maxMessageBytes),
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    // Bun's own timeout only finds dead peers (live ones answer its pings); idleness is ours (sweep below).
    idleTimeout: 120,
    sendPings: true,
    open(ws) {
      conns.add(ws);
    },
    message: onMessage,
    drain(ws) {
      unread.delete(ws);
    },
    close(ws, code, reason) {
      conns.delete(ws);
      unread.delete(ws);
      guard.closed(ws.data);
      // Bun cuts a message over maxPayloadLength itself (1009 to the client; here 1006 with this reason).
      if (!ws.data.closing && (code === 1009 || reason === "Received too big message")) {
        wm.closed.inc({ reason: "too_large" });
        m.rejected.inc({ reason: "ws_too_large" });
      }
    },
    error(e) {
      st.log.error("internal error in the WebSocket transport", { err: String(e?.stack ?? e) });
    },
  };

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const ws of conns) {
      if (ws.data.inFlight !== 0) continue;
      if (now - ws.data.last >= lim.idleTimeoutMs) close(ws, WS_CLOSE.unprocessed, "idle", "idle");
      else if (guard.overdue(ws.data, now)) close(ws, WS_CLOSE.unprocessed, "no verified request", "unverified");
    }
  }, Math.max(50, Math.min(5_000, lim.idleTimeoutMs / 4, lim.verifyTimeoutMs / 4)));
  (sweep as any).unref?.();

  function upgrade(req: Request, server: Peer, listener: Listener): Response | undefined {
    const corrId = `ws-upgrade.${++connSeq}`;
    if (req.method !== "GET" || req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return jsonResponse(fail("invalid_request", `${WS_PATH} is a WebSocket endpoint: send GET with Upgrade: websocket`, corrId), corrId);
    }
    if (st.phase !== "serving") return jsonResponse(fail("unavailable", `daemon is ${st.phase}`, corrId), corrId);
    const peer = listener === "tcp" ? (server.requestIP(req)?.address ?? "unknown") : "unix";
    const g = guard.admit(listener, peer);
    if (isRefusal(g)) {
      m.rejected.inc({ reason: g.reason });
      return jsonResponse(fail("busy", g.message, corrId), corrId);
    }
    const data: Conn = { ...g, n: connSeq, listener, peer, inFlight: 0, last: Date.now(), closing: false, seq: 0 };
    if (server.upgrade(req, { data })) return undefined;
    guard.closed(g);
    return jsonResponse(fail("invalid_request", "the WebSocket upgrade failed (bad Sec-WebSocket-Key or version)", corrId), corrId);
  }

  return {
    fetch(listener, http) {
      return function fetch(req, server) {
        // Cheap test first: every HTTP request passes here.
        if (req.url.endsWith(WS_PATH) && new URL(req.url).pathname === WS_PATH) return upgrade(req, server, listener);
        return http(req, server);
      };
    },
    websocket,
    get size() {
      return conns.size;
    },
    close() {
      clearInterval(sweep);
      for (const ws of conns) {
        const busy = ws.data.inFlight > 0;
        close(ws, busy ? WS_CLOSE.goingAway : WS_CLOSE.unprocessed, "daemon stopping", "stopping");
      }
    },
  };
}
