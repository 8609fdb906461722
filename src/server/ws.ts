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
 *   connections at once, and a burst past `unreadLimit` is held by the
 *   daemon within bounds and a drain time (ws-conn.ts); past any of these,
 *   the connection is closed (1008, logged);
 * - at stop every connection is closed: 4000 when none of its messages is in
 *   flight (a message the client sent but got no answer for was not
 *   processed: it may be sent again), else 1001;
 * - answers the transport cannot carry (the audit stream) get
 *   `invalid_request`: the stream is served over HTTP only.
 *
 * The stages, one job each: admission (`upgrade` here, with ws-guard.ts),
 * message handling (ws-message.ts), the answer and its buffer guard
 * (ws-conn.ts), and the sweep of idle and unverified connections (here).
 * @module
 */
import type { Server, WebSocketHandler } from "bun";
import { fail, type Answer } from "./http.ts";
import type { State } from "./state.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Listener } from "./pipeline.ts";
import type { Route } from "./routes.ts";
import { isRefusal } from "./ws-guard.ts";
import { closeUnread, closeWs, createShared, dropHeld, flushHeld, heldStuck, unreadLimit, WS_CLOSE, type Conn, type WsShared } from "./ws-conn.ts";
import { onMessage } from "./ws-message.ts";

export { MAX_UNREAD_CONNS, WS_CLOSE, unreadLimit } from "./ws-conn.ts";

/** The upgrade path. */
export const WS_PATH = "/v1/ws";

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

export function createWsTransport(st: State, m: ServerMetrics, opts: { routes?: readonly Route[] } = {}): WsTransport {
  const t = createShared(st, m, opts.routes);
  const sweep = startSweep(t);
  return {
    fetch(listener, http) {
      return function fetch(req, server) {
        // Cheap test first: every HTTP request passes here.
        if (req.url.endsWith(WS_PATH) && new URL(req.url).pathname === WS_PATH) return upgrade(t, req, server, listener);
        return http(req, server);
      };
    },
    websocket: websocketHandler(t),
    get size() {
      return t.conns.size;
    },
    close() {
      clearInterval(sweep);
      for (const ws of t.conns) {
        const busy = ws.data.inFlight > 0;
        closeWs(t, ws, busy ? WS_CLOSE.goingAway : WS_CLOSE.unprocessed, "daemon stopping", "stopping");
      }
    },
  };
}

/** Bun.serve's `websocket` option: limits, and the connection set kept up to date. */
function websocketHandler(t: WsShared): WebSocketHandler<Conn> {
  const { lim, m } = t;
  return {
    maxPayloadLength: lim.maxMessageBytes,
    // A client that does not read its answers is cut off rather than buffered for.
    backpressureLimit: unreadLimit(lim.maxMessageBytes),
    closeOnBackpressureLimit: true,
    perMessageDeflate: false,
    // Bun's own timeout only finds dead peers (live ones answer its pings); idleness is ours (startSweep).
    idleTimeout: 120,
    sendPings: true,
    open(ws) {
      t.conns.add(ws);
    },
    message: (ws, msg) => onMessage(t, ws, msg),
    drain(ws) {
      flushHeld(t, ws);
    },
    close(ws, code, reason) {
      t.conns.delete(ws);
      dropHeld(t, ws);
      t.guard.closed(ws.data);
      // Bun cuts a message over maxPayloadLength itself (1009 to the client; here 1006 with this reason).
      if (!ws.data.closing && (code === 1009 || reason === "Received too big message")) {
        t.metrics.closed.inc({ reason: "too_large" });
        m.rejected.inc({ reason: "ws_too_large" });
      }
    },
    error(e) {
      t.st.log.error("internal error in the WebSocket transport", { err: String(e?.stack ?? e) });
    },
  };
}

/** Close connections idle for `--ws-idle`, or without a verified request for `--ws-verify-timeout` (4000). */
function startSweep(t: WsShared): ReturnType<typeof setInterval> {
  const lim = t.lim;
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const ws of t.conns) {
      if (heldStuck(ws, now)) closeUnread(t, ws, "unread answers did not drain");
      if (ws.data.inFlight !== 0) continue;
      if (now - ws.data.last >= lim.idleTimeoutMs) closeWs(t, ws, WS_CLOSE.unprocessed, "idle", "idle");
      else if (t.guard.overdue(ws.data, now)) closeWs(t, ws, WS_CLOSE.unprocessed, "no verified request", "unverified");
    }
  }, Math.max(50, Math.min(5_000, lim.idleTimeoutMs / 4, lim.verifyTimeoutMs / 4)));
  (sweep as any).unref?.();
  return sweep;
}

function jsonResponse(a: Answer, corrId: string): Response {
  return new Response(a.body, { status: a.status, headers: { "content-type": "application/json", "cache-control": "no-store", "x-request-id": corrId } });
}

/** Admission: a WebSocket upgrade while serving, within the guard's connection limits (else 503 `busy`). */
function upgrade(t: WsShared, req: Request, server: Peer, listener: Listener): Response | undefined {
  const corrId = `ws-upgrade.${++t.connSeq}`;
  if (req.method !== "GET" || req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return jsonResponse(fail("invalid_request", `${WS_PATH} is a WebSocket endpoint: send GET with Upgrade: websocket`, corrId), corrId);
  }
  if (t.st.phase !== "serving") return jsonResponse(fail("unavailable", `daemon is ${t.st.phase}`, corrId), corrId);
  const peer = listener === "tcp" ? (server.requestIP(req)?.address ?? "unknown") : "unix";
  const g = t.guard.admit(listener, peer);
  if (isRefusal(g)) {
    t.m.rejected.inc({ reason: g.reason });
    return jsonResponse(fail("busy", g.message, corrId), corrId);
  }
  const data: Conn = { ...g, n: t.connSeq, listener, peer, inFlight: 0, last: Date.now(), closing: false, seq: 0 };
  if (server.upgrade(req, { data })) return undefined;
  t.guard.closed(g);
  return jsonResponse(fail("invalid_request", "the WebSocket upgrade failed (bad Sec-WebSocket-Key or version)", corrId), corrId);
}

