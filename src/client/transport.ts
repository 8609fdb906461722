/**
 * HTTP/1.1 over a unix socket, in Bun (fetch with `unix`) and in Node ≥ 20
 * (node:http with a keep-alive agent). Before the first byte, the socket is
 * checked the way the daemon checks its own (src/os/socket-trust.ts): its
 * directory and the socket belong to the expected uid and nobody else can
 * write there; the connection then goes through the checked directory.
 * Connection errors — the request never reached the daemon — are retried
 * briefly; anything else is not. Errors say which it was: `detail.sent`
 * false (with `connect: true`: never reached the daemon, safe to retry) or
 * true (the connection failed after the request was written: it may have
 * been carried out).
 * @module
 */
import { Agent, request as httpRequest } from "node:http";
import { HushError } from "../errors.ts";
import { resolveSocketOwner, trustSocket } from "../os/socket-trust.ts";

export interface RawResponse {
  status: number;
  header(name: string): string | null;
  body: string;
  /**
   * Lower-case hex SHA-256 of the body's bytes as received, when the
   * transport hashed them (the WebSocket transport does, before decoding):
   * the answer signature is checked over these, with no re-encoding.
   */
  bodyHash?: string;
}

export interface Transport {
  request(method: string, target: string, headers: Record<string, string>, body?: string | Uint8Array<ArrayBuffer>): Promise<RawResponse>;
  close(): void;
}

export interface UnixTransportOptions {
  /** Connection retries (never-connected errors only). Default 5. */
  retries?: number;
  /** Per request, in ms. Default 10 000. */
  timeoutMs?: number;
  /**
   * The user (name or uid) the socket and its directory must belong to.
   * Default: $HUSH_SOCKET_OWNER, else the caller's own uid.
   */
  socketOwner?: string | number | undefined;
}

/** One request through an already checked path. */
interface Inner {
  request(via: string, method: string, target: string, headers: Record<string, string>, body?: string | Uint8Array<ArrayBuffer>): Promise<RawResponse>;
  close(): void;
}

const RETRYABLE = new Set(["ECONNREFUSED", "ENOENT", "EAGAIN", "ConnectionRefused", "FailedToOpenSocket"]);

function connectError(e: any): string | undefined {
  const code = e?.code ?? e?.cause?.code;
  if (typeof code === "string" && RETRYABLE.has(code)) return code;
  return undefined;
}

function unreachable(socketPath: string, e: any): HushError {
  const why = connectError(e) ?? (typeof e?.code === "string" ? e.code : undefined) ?? e?.message ?? e;
  return new HushError("unavailable", `cannot reach the hush daemon at ${socketPath} (${why})`, { connect: true, sent: false });
}

/** The connection failed after the request was written (or while it was): it may have been carried out. */
function lostAnswer(socketPath: string, e: any): HushError {
  const why = (typeof e?.code === "string" ? e.code : undefined) ?? e?.message ?? e;
  return new HushError("unavailable", `the connection to the hush daemon at ${socketPath} failed after the request was sent (${why}); it may have been carried out`, { sent: true });
}

/**
 * Check `socketPath` (see `trustSocket`) and return the path to connect to.
 * Throws HushError `auth_failed` (detail `untrustedSocket`) for a socket
 * that may belong to someone else, `unavailable` (detail `connect`) when it
 * cannot be reached, `invalid_request` for an unknown `socketOwner`.
 */
export function checkedSocketPath(socketPath: string, socketOwner?: string | number): string {
  const owner = resolveSocketOwner(socketOwner);
  try {
    return trustSocket(socketPath, owner);
  } catch (e) {
    if (e instanceof HushError) throw e;
    throw unreachable(socketPath, e);
  }
}

export function createUnixTransport(socketPath: string, opts: UnixTransportOptions = {}): Transport {
  const retries = opts.retries ?? 5;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const owner = resolveSocketOwner(opts.socketOwner);
  const inner = (globalThis as any).Bun ? bunTransport(timeoutMs) : nodeTransport(timeoutMs);
  let via: string | undefined;
  return {
    async request(method, target, headers, body) {
      for (let attempt = 0; ; attempt++) {
        let sending = false;
        try {
          // Checked before the first connection, and again after any failure
          // (the daemon may have restarted in a new directory).
          via ??= trustSocket(socketPath, owner);
          sending = true;
          return await inner.request(via, method, target, headers, body);
        } catch (e) {
          via = undefined;
          if (e instanceof HushError) throw e;
          if (sending && !connectError(e)) throw lostAnswer(socketPath, e);
          if (connectError(e) && attempt < retries) {
            await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
            continue;
          }
          throw unreachable(socketPath, e);
        }
      }
    },
    close: inner.close,
  };
}

function bunTransport(timeoutMs: number): Inner {
  return {
    async request(via, method, target, headers, body) {
      const res = await fetch("http://localhost" + target, {
        method,
        headers,
        body,
        unix: via,
        signal: AbortSignal.timeout(timeoutMs),
      } as RequestInit);
      const text = await res.text();
      return { status: res.status, header: (n) => res.headers.get(n), body: text };
    },
    close() {},
  };
}

/** Send a node:http request and collect its answer as a RawResponse. */
export function sendNodeRequest(
  request: typeof import("node:http").request,
  options: import("node:http").RequestOptions,
  body: string | Uint8Array<ArrayBuffer> | undefined,
  onError: (e: any) => unknown = (e) => e,
): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          header: (n) => {
            const v = res.headers[n.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
          },
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", (e) => reject(onError(e)));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function nodeTransport(timeoutMs: number): Inner {
  // A static import: the CommonJS build must not use import(), which jest's
  // CommonJS sandbox refuses without --experimental-vm-modules.
  let agent: Agent | undefined;
  return {
    async request(via, method, target, headers, body) {
      agent ??= new Agent({ keepAlive: true, maxSockets: 64 });
      return sendNodeRequest(httpRequest, { socketPath: via, path: target, method, headers: { host: "localhost", ...headers }, agent, timeout: timeoutMs }, body);
    },
    close() {
      agent?.destroy();
    },
  };
}
