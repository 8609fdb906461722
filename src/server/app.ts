/**
 * The HTTP transport: turns a Bun `Request` into the pipeline's neutral
 * request and its answer into a `Response` (pipeline.ts does everything
 * between). Its own jobs are the ones only HTTP has:
 *
 * - the target: `new URL(req.url)` (a missing or malformed Host header
 *   makes none, which the pipeline answers `invalid_request`);
 * - the body: read lazily, when the pipeline asks for it, refused past the
 *   body cap before it is buffered (declared or chunked) and cut off at the
 *   request deadline;
 * - the response: JSON answers get `Content-Type`, `X-Request-Id` and
 *   `Cache-Control: no-store`; `text` answers (`/metrics` on admin.sock)
 *   only `X-Request-Id`; `stream` answers (the audit stream) are streamed;
 *   `close` adds `Connection: close`.
 * @module
 */
import type { Answer } from "./http.ts";
import type { State } from "./state.ts";
import { createServerMetrics, type ServerMetrics } from "./metrics.ts";
import { createPipeline, type BodyRead, type Ctx, type Listener } from "./pipeline.ts";
import { EMPTY } from "./stages.ts";

export type { Listener } from "./pipeline.ts";

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

/** The body within `max` bytes and `ms` milliseconds (a slow client is not waited for), or why not. */
async function readWithin(req: Request, max: number, ms: number): Promise<BodyRead> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  try {
    const r = await Promise.race([readBody(req, max), late]);
    return r === null ? "too_large" : r;
  } catch {
    // The client hung up mid-body or sent broken framing.
    return "aborted";
  } finally {
    clearTimeout(timer);
  }
}

/** The Response for an answer (see the module comment for the kinds). */
export function toResponse(a: Answer, corrId: string): Response {
  if (a.kind === "stream") return new Response(a.stream, { status: a.status, headers: a.headers });
  if (a.kind === "text") return new Response(a.body, { status: a.status, headers: { ...a.headers, "x-request-id": corrId } });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-request-id": corrId,
    "cache-control": "no-store",
    ...a.headers,
  };
  if (a.close) headers.connection = "close";
  return new Response(a.body, { status: a.status, headers });
}

type Peer = { requestIP(r: Request): { address: string } | null };

function respond(c: Ctx): Response {
  return toResponse(c.answer!, c.corrId);
}

/**
 * Bun.serve's `fetch` for one listener. `worker` and `admin` are unix
 * sockets (peer "unix"); `tcp` asks the server for the source address.
 */
export function createFetch(st: State, listener: Listener, m: ServerMetrics = createServerMetrics(st)) {
  const { start, run } = createPipeline(st, listener, { metrics: m });
  const maxBody = st.config.limits.maxBodyBytes;
  const timeoutMs = st.config.requestTimeoutMs;

  return function fetch(req: Request, server?: Peer): Response | Promise<Response> {
    let target: string | null = null;
    try {
      const url = new URL(req.url);
      target = url.pathname + url.search;
    } catch {}
    const h = req.headers;
    const c = start({
      method: req.method,
      target,
      authorization: h.get("authorization"),
      requestId: h.get("x-request-id"),
      contentType: h.get("content-type"),
      contentEncoding: h.get("content-encoding"),
      // No body (most GETs): nothing to wait for, so no deadline timer on the hot path.
      body: req.body === null ? EMPTY : () => readWithin(req, maxBody, timeoutMs),
      listener,
      peer: listener === "tcp" ? (server?.requestIP(req)?.address ?? "unix") : "unix",
    });
    const wait = run(c);
    return wait ? wait.then(() => respond(c)) : respond(c);
  };
}
