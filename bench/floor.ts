/**
 * Transport floors on this machine, two Bun processes, unix socket, no hush
 * code: how many round trips per second each way of carrying a request can
 * do at all, before any signing or store work.
 *
 *   http   Bun.serve  ← fetch(unix)           (what hush uses today)
 *   rawhttp Bun.serve ← raw HTTP/1.1 over Bun.connect (src/bench/rawhttp.ts)
 *   frame  Bun.listen ← Bun.connect, 4-byte length-prefixed frames (a possible local protocol)
 *
 *   bun bench/floor.ts [--connections 32,1] [--duration 4s]
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLoad } from "../src/bench/load.ts";
import { createRawUnixTransport } from "../src/bench/rawhttp.ts";
import { readCpuMs } from "../src/bench/daemon.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};

// Child mode: the server side.
if (argv[0] === "--serve") {
  const [, kind, path] = argv;
  const reply = JSON.stringify({ value: "x".repeat(100), expires_at: 1764124000000 });
  if (kind === "http") {
    Bun.serve({ unix: path, fetch: () => new Response(reply, { headers: { "content-type": "application/json", "x-request-id": "abc-1", "hush-signature": "A".repeat(43) } }) });
  } else {
    const out = Buffer.from(reply);
    const frame = Buffer.alloc(4 + out.length);
    frame.writeUInt32BE(out.length, 0);
    out.copy(frame, 4);
    Bun.listen({
      unix: path,
      socket: {
        data(s, d: Buffer) {
          // One small request per read in this floor test: answer each complete frame.
          let o = 0;
          while (o + 4 <= d.length) {
            const n = d.readUInt32BE(o);
            o += 4 + n;
            s.write(frame);
          }
        },
      },
    });
  }
  console.log("ready");
  await new Promise(() => {});
}

const conns = arg("connections", "32,1").split(",").map(Number);
const durationMs = Number(arg("duration", "4s").replace(/s$/, "")) * 1000;
const request = JSON.stringify({ value: "x".repeat(100), ttl_ms: 600000 });
const authz = `HUSH1-HMAC-SHA256 Credential=w_AAAAAAAAAAAAAAAA, Timestamp=1764124000000, Nonce=${"A".repeat(22)}, Signature=${"A".repeat(43)}`;

async function frameClient(path: string) {
  let waiting: ((b: Buffer) => void) | null = null;
  let buf: Buffer = Buffer.alloc(0);
  const sock = await Bun.connect({
    unix: path,
    socket: {
      data(_s, d: Buffer) {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const n = buf.readUInt32BE(0);
          const body = buf.subarray(4, 4 + n);
          buf = buf.subarray(4 + n);
          const w = waiting;
          waiting = null;
          w?.(body);
        }
      },
    },
  });
  const payload = Buffer.from(`GET /v1/kv/bench:k:1\n${authz}\n${request}`);
  const frame = Buffer.alloc(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return () =>
    new Promise<Buffer>((resolve) => {
      waiting = resolve;
      sock.write(frame);
    });
}

const rows: string[] = [];
for (const kind of ["http", "rawhttp", "frame"]) {
  for (const c of conns) {
    const dir = mkdtempSync(join(tmpdir(), "hush-floor-"));
    const path = join(dir, "s.sock");
    const child = Bun.spawn([process.execPath, import.meta.path, "--serve", kind === "frame" ? "frame" : "http", path], { stdout: "pipe", stderr: "inherit" });
    const reader = child.stdout.getReader();
    await reader.read();
    let op: (w: number) => Promise<unknown>;
    if (kind === "http") {
      op = async () => (await fetch("http://localhost/v1/kv/bench:k:1", { method: "GET", headers: { authorization: authz }, unix: path } as RequestInit)).text();
    } else if (kind === "rawhttp") {
      const ts = Array.from({ length: c }, () => createRawUnixTransport(path));
      op = (w) => ts[w].request("GET", "/v1/kv/bench:k:1", { authorization: authz });
    } else {
      const cs = await Promise.all(Array.from({ length: c }, () => frameClient(path)));
      op = (w) => cs[w]();
    }
    await runLoad(op, { connections: c, durationMs: 1000 });
    const cpu0 = readCpuMs(child.pid)!;
    const my0 = process.cpuUsage();
    const r = await runLoad(op, { connections: c, durationMs });
    const server = ((readCpuMs(child.pid)! - cpu0) * 1000) / r.requests;
    const mine = process.cpuUsage(my0);
    const client = (mine.user + mine.system) / r.requests;
    rows.push(`${kind.padEnd(8)} ${String(c).padStart(3)}  ${String(Math.round(r.opsPerSec)).padStart(7)} ops/s  p50 ${(r.histogram.percentile(50) / 1e6).toFixed(3)} ms  p99 ${(r.histogram.percentile(99) / 1e6).toFixed(3)} ms  server ${server.toFixed(1)} µs/op  client ${client.toFixed(1)} µs/op`);
    console.error(rows[rows.length - 1]);
    child.kill();
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(rows.join("\n"));
process.exit(0);
