/**
 * The daemon's request pipeline without HTTP I/O: call the worker listener's
 * fetch handler (src/server/app.ts) in-process with pre-signed Requests and
 * report CPU µs per request, so the cost of hush's own code can be told apart
 * from Bun.serve's and the client's. `--root DIR` loads another checkout
 * (a scratch copy with a candidate optimisation) for before/after numbers.
 *
 *   bun bench/handler.ts [--root DIR] [--n 200000] [--op get|set|ping]
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const root = resolve(arg("root", resolve(import.meta.dir, "..")));
const n = Number(arg("n", "200000"));
const op = arg("op", "get");

const { startDaemon } = await import(join(root, "src/server/daemon.ts"));
const { createFetch } = await import(join(root, "src/server/app.ts"));
const { DEFAULTS } = await import(join(root, "src/config/index.ts"));
const { Logger } = await import(join(root, "src/observe/index.ts"));
const { signRequest } = await import(join(root, "src/auth/index.ts"));

const dir = mkdtempSync(join(tmpdir(), "hush-handler-"));
const d = await startDaemon(
  { ...DEFAULTS, socketPath: join(dir, "hush.sock"), keyRate: { rate: 0, burst: 0 } },
  { version: "bench", log: new Logger({ level: "error" }) },
);
const st = d.state;
const rec = st.registry.create({ kind: "worker", name: "bench", via: "issue" });
const fetch = createFetch(st, "worker");
const value = JSON.stringify("x".repeat(100));
const keys = 1000;
for (let i = 0; i < keys; i++) st.store.set(`bench:k:${i}`, new TextEncoder().encode(value), { ttlMs: 600_000 });

function makeRequest(i: number): Request {
  if (op === "ping") return new Request("http://localhost/v1/health");
  const target = `/v1/kv/bench%3Ak%3A${i % keys}`;
  const method = op === "set" ? "PUT" : "GET";
  const body = op === "set" ? `{"value":${value},"ttl_ms":600000}` : undefined;
  const s = signRequest(rec.macKey, rec.id, { method, target, body });
  const headers: Record<string, string> = { authorization: s.authorization };
  // As on the wire: Bun.serve's Requests carry the client's Content-Length.
  if (body) (headers["content-type"] = "application/json"), (headers["content-length"] = String(Buffer.byteLength(body)));
  return new Request("http://localhost" + target, { method, headers, body });
}

/** CPU µs (user + system) per request: less disturbed than wall time by other processes on a shared machine. */
async function round(count: number): Promise<number> {
  // Sign outside the timed part: only the server's work is measured.
  const reqs = Array.from({ length: count }, (_, i) => makeRequest(i));
  Bun.gc(true);
  const c0 = process.cpuUsage();
  for (const r of reqs) {
    const res = await fetch(r);
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

try {
  await round(Math.min(n, 20_000)); // warm-up (JIT)
  const results: number[] = [];
  for (let k = 0; k < 7; k++) results.push(await round(Math.ceil(n / 7)));
  results.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({ root, op, n, cpu_us_per_request: { min: r2(results[0]), median: r2(results[3]) }, runs: results.map(r2) }));
} finally {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
