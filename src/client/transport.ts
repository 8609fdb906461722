/**
 * HTTP/1.1 over a unix socket, in Bun (fetch with `unix`) and in Node ≥ 20
 * (node:http with a keep-alive agent). Connection errors — the request never
 * reached the daemon — are retried briefly; anything else is not.
 * @module
 */
import { HushError } from "../errors.ts";

export interface RawResponse {
  status: number;
  header(name: string): string | null;
  body: string;
}

export interface Transport {
  request(method: string, target: string, headers: Record<string, string>, body?: string): Promise<RawResponse>;
  close(): void;
}

const RETRYABLE = new Set(["ECONNREFUSED", "ENOENT", "EAGAIN", "ConnectionRefused", "FailedToOpenSocket"]);

function connectError(e: any): string | undefined {
  const code = e?.code ?? e?.cause?.code;
  if (typeof code === "string" && RETRYABLE.has(code)) return code;
  return undefined;
}

export function createUnixTransport(socketPath: string, opts: { retries?: number; timeoutMs?: number } = {}): Transport {
  const retries = opts.retries ?? 5;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const inner = (globalThis as any).Bun ? bunTransport(socketPath, timeoutMs) : nodeTransport(socketPath, timeoutMs);
  return {
    async request(method, target, headers, body) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await inner.request(method, target, headers, body);
        } catch (e) {
          const code = connectError(e);
          if (code && attempt < retries) {
            await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
            continue;
          }
          if (e instanceof HushError) throw e;
          throw new HushError("unavailable", `cannot reach the hush daemon at ${socketPath} (${code ?? (e as Error)?.message ?? e})`, {
            connect: true,
          });
        }
      }
    },
    close: inner.close,
  };
}

function bunTransport(socketPath: string, timeoutMs: number): Transport {
  return {
    async request(method, target, headers, body) {
      const res = await fetch("http://localhost" + target, {
        method,
        headers,
        body,
        unix: socketPath,
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
  body: string | undefined,
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

function nodeTransport(socketPath: string, timeoutMs: number): Transport {
  let agent: any;
  const load = async () => {
    const http = await import("node:http");
    agent ??= new http.Agent({ keepAlive: true, maxSockets: 64 });
    return http;
  };
  return {
    async request(method, target, headers, body) {
      const http = await load();
      return sendNodeRequest(http.request, { socketPath, path: target, method, headers: { host: "localhost", ...headers }, agent, timeout: timeoutMs }, body);
    },
    close() {
      agent?.destroy();
    },
  };
}
