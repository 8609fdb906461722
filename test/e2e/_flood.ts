/**
 * A flood of unauthenticated requests for tests: pipelined HTTP/1.1 over a
 * unix socket or TLS (`Bun.connect`), each request signed with a fresh
 * random key id (so nothing the daemon knows), a batch in flight at a time.
 * Counts the answers by status.
 */
import { randomBytes } from "node:crypto";

export interface FloodTarget {
  unix?: string;
  /** host:port of a TLS listener (certificate not checked: the flood needs no trust). */
  tls?: { hostname: string; port: number };
}

const b64u = (n: number) => randomBytes(n).toString("base64url");

/** One request with a random key id (`Credential=w_…`), a fresh timestamp and nonce, and a bad signature. */
export function floodRequest(path = "/v1/kv/flood"): string {
  const auth = `HUSH1-HMAC-SHA256 Credential=w_${b64u(12)}, Timestamp=${Date.now()}, Nonce=${b64u(15)}x${"AQgw"[randomBytes(1)[0] & 3]}, Signature=${b64u(31)}${"AEIM"[randomBytes(1)[0] & 3]}`;
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${auth}\r\n\r\n`;
}

/**
 * Send `total` flood requests on one connection, `batch` at a time; resolves
 * with the count of answers per status. Rejects if the connection closes early.
 */
export function floodConnection(target: FloodTarget, total: number, batch = 200, make: () => string = floodRequest): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const codes = new Map<number, number>();
    let sent = 0;
    let answered = 0;
    let waiting = 0;
    let tail = "";
    let out: Buffer | null = null;
    const send = (sock: any) => {
      const n = Math.min(batch, total - sent);
      let text = "";
      for (let i = 0; i < n; i++) text += make();
      sent += n;
      waiting = n;
      write(sock, Buffer.from(text));
    };
    const write = (sock: any, b: Buffer) => {
      const w = sock.write(b);
      out = w < b.length ? b.subarray(Math.max(0, w)) : null;
    };
    const handlers = {
      open(sock: any) {
        send(sock);
      },
      drain(sock: any) {
        if (out) write(sock, out);
      },
      data(sock: any, d: Buffer) {
        const s = tail + d.toString("latin1");
        let i = 0;
        for (;;) {
          const j = s.indexOf("HTTP/1.1 ", i);
          if (j < 0 || j + 12 > s.length) break;
          const code = Number(s.slice(j + 9, j + 12));
          codes.set(code, (codes.get(code) ?? 0) + 1);
          answered++;
          waiting--;
          i = j + 12;
        }
        tail = s.slice(Math.max(i, s.length - 12));
        if (answered >= total) {
          sock.end();
          resolve(codes);
        } else if (waiting === 0) send(sock);
      },
      close() {
        if (answered < total) reject(new Error(`connection closed after ${answered} of ${total} answers (${JSON.stringify([...codes])})`));
      },
      error(_s: any, e: Error) {
        reject(e);
      },
    };
    const opts: any = target.unix ? { unix: target.unix, socket: handlers } : { hostname: target.tls!.hostname, port: target.tls!.port, tls: { rejectUnauthorized: false }, socket: handlers };
    Bun.connect(opts).catch(reject);
  });
}

/** Add up per-connection status counts. */
export function sumCodes(all: Map<number, number>[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const m of all) for (const [k, v] of m) out[k] = (out[k] ?? 0) + v;
  return out;
}
