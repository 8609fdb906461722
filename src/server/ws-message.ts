/**
 * One WebSocket message through the transport (ws.ts), in stages:
 * `readFrame` (a text frame, a malformed frame, a target a URL parser would
 * rewrite), `admitMessage` (messages in flight on the connection and of
 * the key), `runMessage` (the request pipeline, then the answer under the
 * message's id) and `settled` (a refused unverified message counts against
 * the connection's source and may close it, 4029).
 * @module
 */
import { decodeRequest, type RequestFrame } from "../wire/frame.ts";
import { canonicalTarget } from "../wire/target.ts";
import { fail } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { closeWs, refuseMessage, sendAnswer, WS_CLOSE, type Ws, type WsShared } from "./ws-conn.ts";

const CREDENTIAL = "HUSH1-HMAC-SHA256 Credential=";

/** The key id an Authorization header names (not verified; only looked up). */
function claimedKey(authorization: string | undefined): string | undefined {
  return authorization?.startsWith(CREDENTIAL) ? authorization.slice(CREDENTIAL.length, CREDENTIAL.length + 18) : undefined;
}

/** Bun's `message` handler. */
export function onMessage(t: WsShared, ws: Ws, msg: string | Uint8Array): void {
  const conn = ws.data;
  if (conn.closing) return;
  conn.last = Date.now();
  if (typeof msg === "string") return closeWs(t, ws, WS_CLOSE.unsupported, "binary frames only", "text_frame");
  const read = readFrame(t, ws, msg);
  if (read === null || !admitMessage(t, ws, read.frame)) return;
  runMessage(t, ws, read.frame, read.target);
}

/** The decoded frame and its target; null when the message was refused (answered, or its connection closed). */
function readFrame(t: WsShared, ws: Ws, msg: Uint8Array): { frame: RequestFrame; target: string } | null {
  const d = decodeRequest(msg);
  if (!d.ok) {
    if (d.id === null) {
      closeWs(t, ws, WS_CLOSE.protocol, `malformed frame: ${d.error}`.slice(0, 120), "malformed");
      return null;
    }
    refuseMessage(t, ws, d.id, (id) => fail("invalid_request", `malformed frame: ${d.error}`, id), "ws_malformed");
    failed(t, ws, t.st.failures.take(ws.data.peer) > 0);
    return null;
  }
  const target = canonicalTarget(d.frame.target);
  if (target === null) {
    refuseMessage(t, ws, d.frame.id, (id) => fail("invalid_request", "the target is not in the form a URL parser leaves unchanged (PROTOCOL.md §3)", id), "ws_malformed");
    failed(t, ws, t.st.failures.take(ws.data.peer) > 0);
    return null;
  }
  return { frame: d.frame, target };
}

/** The in-flight limits of the connection and of the key the message names; false when refused (`busy`). */
function admitMessage(t: WsShared, ws: Ws, f: RequestFrame): boolean {
  if (ws.data.inFlight >= t.lim.maxInFlight) {
    refuseMessage(t, ws, f.id, (id) => fail("busy", "too many messages in flight on this connection", id), "ws_in_flight");
    return false;
  }
  const claimed = t.perKey.size === 0 ? undefined : claimedKey(f.headers.authorization);
  if (claimed !== undefined && (t.perKey.get(claimed) ?? 0) >= t.lim.maxInFlightPerKey) {
    refuseMessage(t, ws, f.id, (id) => fail("busy", "too many messages in flight for this key", id), "ws_in_flight_key");
    return false;
  }
  return true;
}

/** Run the pipeline; answer at once when it waited for nothing, else count the message in flight until it is done. */
function runMessage(t: WsShared, ws: Ws, f: RequestFrame, target: string): void {
  const conn = ws.data;
  const h = f.headers;
  const p = t.pipelineOf(conn.listener);
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
  if (c.key) t.guard.saw(conn, true);
  if (!wait) return answer(t, ws, f.id, c);
  // Waiting (an async handler): in flight for the connection and, once verified, for its key.
  conn.inFlight++;
  const key = c.key?.id;
  if (key !== undefined) t.perKey.set(key, (t.perKey.get(key) ?? 0) + 1);
  void wait.then(() => {
    conn.inFlight--;
    if (key !== undefined) {
      const left = t.perKey.get(key)! - 1;
      if (left > 0) t.perKey.set(key, left);
      else t.perKey.delete(key);
    }
    if (ws.readyState === 1) answer(t, ws, f.id, c);
  });
}

/** Send the pipeline's answer (a stream, which this transport cannot carry, becomes `invalid_request`), then `settled`. */
function answer(t: WsShared, ws: Ws, id: string, c: Ctx): void {
  let a = c.answer!;
  if (a.kind === "stream") {
    a.stream?.cancel().catch(() => {});
    a = fail("invalid_request", "streams (the audit stream) are served over HTTP only", c.corrId);
  }
  sendAnswer(t, ws, id, a, c.corrId);
  settled(t, ws, c);
}

/** After the answer: a refusal of an unverified message counts against the connection (and may close it, 4029). */
function settled(t: WsShared, ws: Ws, c: Ctx): void {
  const status = c.answer?.status ?? 0;
  if (c.key || status < 400) return;
  // 401 and 429 were charged to the source by authentication; busy (503) is the daemon's limit, not the caller's doing.
  failed(t, ws, status === 429 || (status !== 401 && status !== 503 && t.st.failures.take(ws.data.peer) > 0));
}

/** A message failed on `ws`: closes it (4029) when its source is over its failure budget. */
function failed(t: WsShared, ws: Ws, limited: boolean): void {
  t.guard.saw(ws.data, false);
  if (limited) closeWs(t, ws, WS_CLOSE.failures, "too many failed requests from this source", "failures");
}
