/**
 * What the stages of the WebSocket transport share (ws.ts composes them):
 * the connection record, the transport's shared state, closing a
 * connection, and sending an answer under the unread-answers guard.
 *
 * The buffer guard: a peer that does not read its answers gets them
 * buffered up to `unreadLimit` bytes per connection (Bun's backpressure
 * limit, past which Bun closes it) and only while at most
 * `MAX_UNREAD_CONNS` connections hold unread answers at once; past either,
 * the connection is closed (1008).
 * @module
 */
import type { ServerWebSocket } from "bun";
import { encodeAnswer, type Headers } from "../wire/frame.ts";
import type { Answer } from "./http.ts";
import type { State } from "./state.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { Counter } from "../observe/index.ts";
import { createPipeline, type Listener, type Pipeline } from "./pipeline.ts";
import type { Route } from "./routes.ts";
import { WsGuard, type Guarded } from "./ws-guard.ts";

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

/** One connection's data (Bun's `ws.data`). */
export interface Conn extends Guarded {
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

export type Ws = ServerWebSocket<Conn>;

interface WsMetrics {
  closed: Counter;
}

/** The transport's state, shared by its stages. */
export interface WsShared {
  readonly st: State;
  readonly m: ServerMetrics;
  readonly lim: State["config"]["ws"];
  readonly conns: Set<Ws>;
  /** Messages in flight per verified key. */
  readonly perKey: Map<string, number>;
  readonly guard: WsGuard;
  /** Connections with unread answers buffered (between a send that met backpressure and Bun's drain). */
  readonly unread: Set<Ws>;
  readonly metrics: WsMetrics;
  pipelineOf(l: Listener): Pipeline;
  /** Connections upgraded so far (their `n`). */
  connSeq: number;
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

export function createShared(st: State, m: ServerMetrics, routes: readonly Route[] | undefined): WsShared {
  const conns = new Set<Ws>();
  const pipelines: Partial<Record<Listener, Pipeline>> = {};
  return {
    st,
    m,
    lim: st.config.ws,
    conns,
    perKey: new Map(),
    guard: new WsGuard(st.config.ws, st.log),
    unread: new Set(),
    metrics: wsMetrics(st, () => conns.size),
    pipelineOf: (l) => (pipelines[l] ??= createPipeline(st, l, { metrics: m, ...(routes ? { routes } : {}) })),
    connSeq: 0,
  };
}

/** Close `ws` once (counted by `metric`). */
export function closeWs(t: WsShared, ws: Ws, code: number, reason: string, metric: string): void {
  if (ws.data.closing) return;
  ws.data.closing = true;
  t.metrics.closed.inc({ reason: metric });
  ws.close(code, reason);
}

/** Send one answer with message id `id`; a peer over the unread-answers guard is closed (1008). */
export function sendAnswer(t: WsShared, ws: Ws, id: string, a: Answer, corrId: string): void {
  const headers: Headers = { "x-request-id": corrId };
  if (a.headers) for (const k in a.headers) headers[k] = a.headers[k]!;
  const sent = ws.send(encodeAnswer(id, a.status, headers, a.body));
  if (sent > 0 || ws.readyState !== 1) return;
  // Dropped (past the per-connection bound), or buffered while too many connections hold unread answers.
  if (sent === 0 || (!t.unread.has(ws) && t.unread.size >= MAX_UNREAD_CONNS)) closeWs(t, ws, WS_CLOSE.unread, "too many unread answers", "backpressure");
  else t.unread.add(ws);
}

/** An answer from the transport itself (unsigned, like every refusal before verification). */
export function refuseMessage(t: WsShared, ws: Ws, id: string, a: (corrId: string) => Answer, reason: string): void {
  t.m.rejected.inc({ reason });
  const corrId = `ws${ws.data.n}.${++ws.data.seq}`;
  sendAnswer(t, ws, id, a(corrId), corrId);
}
