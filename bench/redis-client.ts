/**
 * A like-for-like Redis load generator for bench/compare: the same Bun
 * process type, the same load loop and histogram as `hush bench`, speaking
 * RESP over a unix socket with node:net, one command in flight per
 * connection (no pipelining). redis-benchmark (C) is cheaper per request;
 * this shows what a client of the same cost gets from Redis.
 *
 *   bun bench/redis-client.ts --socket /tmp/x/redis.sock --op get -c 32 --duration 10s --value-size 100
 *
 * Prints one JSON line shaped like `hush bench --json`.
 * @module
 */
import { connect, type Socket } from "node:net";
import { runLoad } from "../src/bench/load.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string) => {
  const i = argv.findIndex((a) => a === `--${name}` || a === `-${name[0]}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const socketPath = arg("socket")!;
const op = arg("op", "get")!;
const connections = Number(arg("connections", "32"));
const durationS = Number((arg("duration", "10s") ?? "10s").replace(/s$/, ""));
const requests = arg("requests") ? Number(arg("requests")) : undefined;
const valueSize = Number(arg("value-size", "100"));
const keys = Number(arg("keys", "1000"));
const warmupS = Number((arg("warmup", "1s") ?? "1s").replace(/s$/, ""));
if (!socketPath || !["get", "set", "ping"].includes(op)) {
  console.error("usage: bun bench/redis-client.ts --socket PATH --op get|set|ping [--connections N] [--duration Ns | --requests N] [--value-size B]");
  process.exit(2);
}

/** One RESP connection, one command at a time. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (v: string | number | null) => void; reject: (e: Error) => void } | null = null;
  constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.drain();
    });
    sock.on("error", (e) => this.waiting?.reject(e));
  }
  static open(path: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ path }, () => resolve(new Conn(s)));
      s.once("error", reject);
    });
  }
  command(...parts: string[]): Promise<string | number | null> {
    let out = `*${parts.length}\r\n`;
    for (const p of parts) out += `$${Buffer.byteLength(p)}\r\n${p}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.sock.write(out);
    });
  }
  private drain(): void {
    const b = this.buf;
    const nl = b.indexOf("\r\n");
    if (nl < 0 || !this.waiting) return;
    const head = b.toString("latin1", 1, nl);
    let value: string | number | null;
    let used: number;
    switch (b[0]) {
      case 0x2b: // +
        value = head;
        used = nl + 2;
        break;
      case 0x3a: // :
        value = Number(head);
        used = nl + 2;
        break;
      case 0x24: {
        // $
        const n = Number(head);
        if (n < 0) {
          value = null;
          used = nl + 2;
          break;
        }
        if (b.length < nl + 2 + n + 2) return;
        value = b.toString("utf8", nl + 2, nl + 2 + n);
        used = nl + 2 + n + 2;
        break;
      }
      case 0x2d: // -
        this.buf = b.subarray(nl + 2);
        return this.settle(null, new Error(head));
      default:
        return this.settle(null, new Error("unexpected RESP reply"));
    }
    this.buf = b.subarray(used);
    this.settle(value);
  }
  private settle(v: string | number | null, e?: Error): void {
    const w = this.waiting!;
    this.waiting = null;
    if (e) w.reject(e);
    else w.resolve(v);
  }
  close(): void {
    this.sock.destroy();
  }
}

const conns = await Promise.all(Array.from({ length: connections }, () => Conn.open(socketPath)));
const value = "x".repeat(valueSize);
const key = (i: number) => `key:${i % keys}`;
for (let i = 0; i < keys; i++) await conns[0].command("SET", key(i), value);
const run = async (w: number, seq: number) => {
  if (op === "ping") {
    if ((await conns[w].command("PING")) !== "PONG") throw new Error("bad PING reply");
  } else if (op === "get") {
    const v = await conns[w].command("GET", key(seq));
    if (typeof v !== "string" || v.length !== valueSize) throw new Error("bad GET reply");
  } else if ((await conns[w].command("SET", key(seq), value)) !== "OK") throw new Error("bad SET reply");
};
if (warmupS > 0) await runLoad(run, { connections, durationMs: warmupS * 1000 });
const r = await runLoad(run, { connections, requests, durationMs: requests ? undefined : durationS * 1000 });
const h = r.histogram;
const ms = (ns: number) => Math.round(ns / 1000) / 1000;
console.log(
  JSON.stringify({
    op,
    connections,
    requests: r.requests,
    errors: r.errors,
    duration_ms: Math.round(r.elapsedMs),
    ops_per_sec: Math.round(r.opsPerSec),
    latency_ms: { p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)) },
    error_kinds: r.errorKinds,
  }),
);
for (const c of conns) c.close();
