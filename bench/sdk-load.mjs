/**
 * The hush SDK under load, from the built SDK (dist/sdk/index.mjs), so the same
 * script measures Bun and Node ≥ 20 (bench/compare runs it with both).
 * Every request is signed and every answer's signature verified. All
 * `--inflight` workers share one Client (the SDK pipelines them over its
 * connection, as an application's concurrent calls are).
 *
 *   node bench/sdk-load.mjs --socket S --credential-file F --op get|set [--inflight 32] [--duration 5]
 *        [--value-size 100] [--keys 1000] [--transport ws|http] [--sockets N (default: the SDK's, 2)]
 *
 * Prints one JSON line (ops_per_sec, latency_ms, cpu_us_per_op, …).
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { arg, runLoad } from "./_load.mjs";

const { Client } = await import(resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../dist/sdk/index.mjs"));
const op = arg("op", "get");
const inflight = Number(arg("inflight", "32"));
const keys = Number(arg("keys", "1000"));
const value = "x".repeat(Number(arg("value-size", "100")));
const transport = arg("transport", "ws");
const credential = readFileSync(arg("credential-file"), "utf8");
// HTTP: one client per worker, one request in flight each (as `hush bench` did); WebSocket: one shared client.
const clients = Array.from({ length: transport === "http" ? inflight : 1 }, () => new Client({ socket: arg("socket"), credential, transport, autoRekey: false, retries: 0, connections: process.argv.includes("--sockets") ? Number(arg("sockets", "2")) : undefined }));
const client = (w) => clients[w % clients.length];
const key = (i) => `bench:k:${i % keys}`;
if (op === "get") {
  for (let i = 0; i < keys; i += 100) await Promise.all(Array.from({ length: Math.min(100, keys - i) }, (_, j) => clients[0].set(key(i + j), value, { ttlMs: 600_000 })));
}
const run =
  op === "get"
    ? async (w, i) => {
        if ((await client(w).get(key(i))).length !== value.length) throw new Error("bad value");
      }
    : (w, i) => client(w).set(key(i), value, { ttlMs: 600_000 });
const r = await runLoad(run, { inflight, durationMs: Number(arg("duration", "5")) * 1000, warmupMs: 1000 });
for (const c of clients) c.close();
console.log(JSON.stringify({ system: "hush", op, inflight, transport, ...r }));
process.exit(0);
