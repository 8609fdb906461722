/**
 * EXPERIMENT (used by bench/sdk-transport.ts, not by the SDK): a minimal
 * HTTP/1.1 keep-alive transport over a unix socket with `Bun.connect`, in
 * the SDK's `Transport` shape, to measure how much of the client's cost is
 * Bun's `fetch`. One request in flight per connection; idle connections are
 * pooled. Answers must carry Content-Length or be chunked (Bun.serve's are).
 * @module
 */
import { checkedSocketPath, type RawResponse, type Transport } from "../client/transport.ts";

interface Pending {
  resolve: (r: RawResponse) => void;
  reject: (e: Error) => void;
}

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  pending: Pending | null = null;
  closed = false;
  sock: any;
  /** Bytes not yet accepted by the socket (written on drain). */
  out: Buffer | null = null;

  send(text: string): void {
    const b = Buffer.from(text);
    const n = this.sock.write(b);
    this.out = n < b.length ? b.subarray(Math.max(0, n)) : null;
  }

  onDrain(): void {
    if (!this.out) return;
    const n = this.sock.write(this.out);
    this.out = n < this.out.length ? this.out.subarray(Math.max(0, n)) : null;
  }

  onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    this.parse();
  }

  onClose(err?: Error): void {
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    p?.reject(err ?? Object.assign(new Error("connection closed"), { code: "ECONNRESET" }));
  }

  private parse(): void {
    const p = this.pending;
    if (!p) return;
    const b = this.buf;
    const end = b.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = b.toString("latin1", 0, end).split("\r\n");
    const status = Number(head[0].slice(9, 12));
    const headers = new Map<string, string>();
    for (let i = 1; i < head.length; i++) {
      const c = head[i].indexOf(":");
      if (c > 0) headers.set(head[i].slice(0, c).toLowerCase(), head[i].slice(c + 1).trim());
    }
    let body: string;
    let used: number;
    const cl = headers.get("content-length");
    if (cl !== undefined) {
      const n = Number(cl);
      if (b.length < end + 4 + n) return;
      body = b.toString("utf8", end + 4, end + 4 + n);
      used = end + 4 + n;
    } else if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Buffer[] = [];
      let o = end + 4;
      for (;;) {
        const nl = b.indexOf("\r\n", o);
        if (nl < 0) return;
        const size = parseInt(b.toString("latin1", o, nl), 16);
        if (b.length < nl + 2 + size + 2) return;
        if (size === 0) {
          used = nl + 4;
          break;
        }
        parts.push(b.subarray(nl + 2, nl + 2 + size));
        o = nl + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString("utf8");
    } else {
      this.pending = null;
      p.reject(new Error("answer without Content-Length"));
      return;
    }
    this.buf = b.subarray(used);
    this.pending = null;
    p.resolve({ status, header: (name) => headers.get(name.toLowerCase()) ?? null, body });
  }
}

export function createRawUnixTransport(socketPath: string, socketOwner?: string): Transport {
  const via = checkedSocketPath(socketPath, socketOwner);
  const idle: Conn[] = [];
  const all = new Set<Conn>();

  async function open(): Promise<Conn> {
    const c = new Conn();
    c.sock = await Bun.connect({
      unix: via,
      socket: {
        data: (_s, d) => c.onData(d as Buffer),
        drain: () => c.onDrain(),
        close: () => c.onClose(),
        error: (_s, e) => c.onClose(e),
      },
    });
    all.add(c);
    return c;
  }

  return {
    async request(method, target, headers, body) {
      let c = idle.pop();
      while (c && c.closed) c = idle.pop();
      c ??= await open();
      let head = `${method} ${target} HTTP/1.1\r\nhost: localhost\r\n`;
      for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
      const bytes = body === undefined ? 0 : Buffer.byteLength(body);
      if (body !== undefined || method === "POST" || method === "PUT") head += `content-length: ${bytes}\r\n`;
      const conn = c;
      const res = await new Promise<RawResponse>((resolve, reject) => {
        conn.pending = { resolve, reject };
        conn.send(head + "\r\n" + (body ?? ""));
      });
      if (!conn.closed) idle.push(conn);
      return res;
    },
    close() {
      for (const c of all) c.sock?.end();
      all.clear();
      idle.length = 0;
    },
  };
}
