/**
 * What the stages of the WebSocket transport share (ws.ts composes them):
 * the connection record, the transport's shared state, closing a
 * connection, and sending an answer under the unread-answers guard.
 *
 * The buffer guard: a peer that does not read its answers gets them
 * buffered by Bun up to `unreadLimit` bytes per connection, and only while
 * at most `MAX_UNREAD_CONNS` connections hold unread answers at once (past
 * that, the connection is closed, 1008). An answer that would take Bun's
 * buffer past `unreadLimit` is held by the daemon instead (a burst of a
 * reading client's own answers, say 32 gets of 250 KiB values) and sent
 * as Bun drains: at most `maxInFlight` answers and `QUEUE_FACTOR` ×
 * `unreadLimit` bytes per connection, `MAX_UNREAD_CONNS` × `unreadLimit`
 * bytes for all connections together, and for at most `UNREAD_DRAIN_MS`
 * without progress; past any of these the connection is closed (1008,
 * logged at most once per `LOG_EVERY_MS`). Worst case, all connections
 * together: 2 × `MAX_UNREAD_CONNS` × `unreadLimit` (128 MiB at the
 * defaults), twice the bound without the daemon-held answers.
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

/**
 * Daemon-held answers of one connection may reach this many times `unreadLimit`
 * bytes: 32 MiB at the defaults, room for the SDK's default of 128 messages in
 * flight, each a get of a 256 KiB value.
 */
export const QUEUE_FACTOR = 16;

/** A connection whose daemon-held answers do not drain for this long is closed (ms). */
export const UNREAD_DRAIN_MS = 10_000;

/** At most one log line per this many ms about connections closed for unread answers. */
const LOG_EVERY_MS = 10_000;

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
  /** Answers held by the daemon until Bun's buffer drains below `unreadLimit` (encoded), and their bytes. */
  held?: Uint8Array[];
  heldBytes?: number;
  /** Date.now() when the held answers were last sent from (or first held). */
  heldSince?: number;
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
  /** Bytes of answers held by the daemon, all connections together. */
  held: number;
  /** The unread-answers log: when the last line went out, and closings since then not logged. */
  readonly unreadLog: { at: number; quiet: number };
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
    held: 0,
    unreadLog: { at: 0, quiet: 0 },
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

/**
 * Send one answer with message id `id`. When Bun's buffer would go past
 * `unreadLimit`, the answer is held by the daemon (`flushHeld` sends it on
 * Bun's drain); a peer over any bound of the guard (module doc) is closed (1008).
 */
export function sendAnswer(t: WsShared, ws: Ws, id: string, a: Answer, corrId: string): void {
  const headers: Headers = { "x-request-id": corrId };
  if (a.headers) for (const k in a.headers) headers[k] = a.headers[k]!;
  const bytes = encodeAnswer(id, a.status, headers, a.body);
  if (ws.readyState !== 1 || ws.data.closing) return;
  const limit = unreadLimit(t.lim.maxMessageBytes);
  if (ws.data.held?.length || (ws.getBufferedAmount() > 0 && ws.getBufferedAmount() + bytes.length > limit)) return hold(t, ws, bytes, limit);
  send(t, ws, bytes);
}

/** Hand `bytes` to Bun; a connection with unread answers while `MAX_UNREAD_CONNS` others have some is closed (1008). */
function send(t: WsShared, ws: Ws, bytes: Uint8Array): void {
  const sent = ws.send(bytes);
  if (sent > 0 || ws.readyState !== 1) return;
  // Dropped (past Bun's limit), or buffered while too many connections hold unread answers.
  if (sent === 0 || (!t.unread.has(ws) && t.unread.size >= MAX_UNREAD_CONNS)) closeUnread(t, ws, "too many unread answers");
  else t.unread.add(ws);
}

/** Hold an answer in the daemon, within the per-connection and global bounds (else close, 1008). */
function hold(t: WsShared, ws: Ws, bytes: Uint8Array, limit: number): void {
  const c = ws.data;
  const held = (c.held ??= []);
  if (held.length >= t.lim.maxInFlight || (c.heldBytes ?? 0) + bytes.length > QUEUE_FACTOR * limit || t.held + bytes.length > MAX_UNREAD_CONNS * limit) {
    return closeUnread(t, ws, "too many unread answers");
  }
  if (held.length === 0) c.heldSince = Date.now();
  held.push(bytes);
  c.heldBytes = (c.heldBytes ?? 0) + bytes.length;
  t.held += bytes.length;
  t.unread.add(ws);
}

/** Bun's drain: send held answers while Bun's buffer stays within `unreadLimit`. */
export function flushHeld(t: WsShared, ws: Ws): void {
  const c = ws.data;
  const limit = unreadLimit(t.lim.maxMessageBytes);
  let sent = false;
  while (c.held?.length && ws.readyState === 1 && !c.closing) {
    const next = c.held[0]!;
    if (ws.getBufferedAmount() > 0 && ws.getBufferedAmount() + next.length > limit) break;
    c.held.shift();
    c.heldBytes! -= next.length;
    t.held -= next.length;
    sent = true;
    send(t, ws, next);
  }
  if (sent) c.heldSince = Date.now();
  if (!c.held?.length && ws.getBufferedAmount() === 0) t.unread.delete(ws);
}

/** Forget a closed connection's held answers. */
export function dropHeld(t: WsShared, ws: Ws): void {
  const c = ws.data;
  t.held -= c.heldBytes ?? 0;
  c.held = undefined;
  c.heldBytes = 0;
  t.unread.delete(ws);
}

/** True when `ws` has held answers that made no progress for `UNREAD_DRAIN_MS`. */
export function heldStuck(ws: Ws, now: number): boolean {
  return !!ws.data.held?.length && now - (ws.data.heldSince ?? now) >= UNREAD_DRAIN_MS;
}

/** Close a connection for unread answers (1008), with a warning at most once per `LOG_EVERY_MS`. */
export function closeUnread(t: WsShared, ws: Ws, reason: string): void {
  if (ws.data.closing) return;
  closeWs(t, ws, WS_CLOSE.unread, reason, "backpressure");
  const log = t.unreadLog;
  const now = Date.now();
  if (now - log.at < LOG_EVERY_MS) {
    log.quiet++;
    return;
  }
  t.st.log.warn("WebSocket connection closed: its answers are not read", { peer: ws.data.peer, conn: ws.data.n, reason, closed_unlogged: log.quiet });
  log.at = now;
  log.quiet = 0;
}

/** An answer from the transport itself (unsigned, like every refusal before verification). */
export function refuseMessage(t: WsShared, ws: Ws, id: string, a: (corrId: string) => Answer, reason: string): void {
  t.m.rejected.inc({ reason });
  const corrId = `ws${ws.data.n}.${++ws.data.seq}`;
  sendAnswer(t, ws, id, a(corrId), corrId);
}
