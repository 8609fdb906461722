/**
 * One sequential client of hush or of ephemeral-broker, call by call, as a
 * test process uses it (plain ESM: the same file runs in Node 20 and in Bun;
 * bench/eb-compare.ts runs it under `hush run` or `ephemeral-broker start`,
 * which put the daemon's address in the environment).
 *
 *   node bench/eb-load.mjs --client hush-sdk|hush-compat|eb --op get|set|del
 *        [--duration 3] [--warmup 1] [--value-size 100] [--keys 1000] --out FILE
 *
 *   hush-sdk     the hush SDK (dist/sdk/index.mjs), default transport, HUSH_SOCKET + HUSH_CREDENTIAL
 *   hush-compat  hush-broker/ephemeral-broker (dist/sdk/ephemeral-broker.mjs), same environment
 *   eb           @ephemeral-broker/core's Client, EPHEMERAL_PIPE (+ CLIENT_SECRET when HMAC is on)
 *
 * One call at a time, each timed alone. `del` deletes a key that exists: each
 * timed del follows an untimed set of the same key. ops/s is calls divided by
 * the time spent inside the timed calls (for get and set that is the wall
 * time of the loop). Writes one JSON object to --out.
 * @module
 */
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { arg } from "./_load.mjs";

const here = import.meta.dirname ?? new URL(".", import.meta.url).pathname;
const kind = arg("client", "hush-sdk");
const op = arg("op", "get");
const durationMs = Number(arg("duration", "3")) * 1000;
const warmupMs = Number(arg("warmup", "1")) * 1000;
const keys = Number(arg("keys", "1000"));
const value = "x".repeat(Number(arg("value-size", "100")));
const TTL = 600_000;

/** The three clients behind one shape: get(k), set(k, v), del(k), close(). */
async function open() {
  if (kind === "hush-sdk") {
    const { Client } = await import(resolve(here, "../dist/sdk/index.mjs"));
    const c = new Client({ autoRekey: false, retries: 0 });
    return { get: (k) => c.get(k), set: (k, v) => c.set(k, v, { ttlMs: TTL }), del: (k) => c.del(k), close: () => c.close() };
  }
  if (kind === "hush-compat") {
    const { Client } = await import(resolve(here, "../dist/sdk/ephemeral-broker.mjs"));
    const c = new Client();
    return { get: (k) => c.get(k), set: (k, v) => c.set(k, v, TTL), del: (k) => c.del(k), close: () => c.close() };
  }
  if (kind === "eb") {
    const where = process.env.EB_CORE || createRequire(resolve(here, "../package.json")).resolve("@ephemeral-broker/core");
    const { Client } = await import(where);
    const c = new Client(process.env.EPHEMERAL_PIPE);
    return { get: (k) => c.get(k), set: (k, v) => c.set(k, v, TTL), del: (k) => c.del(k), close: () => {} };
  }
  throw new Error(`unknown --client ${kind}`);
}

const c = await open();
const key = (i) => `bench:k:${i % keys}`;
for (let i = 0; i < keys; i++) await c.set(key(i), value);

/** One pass of sequential calls for `ms`; latencies (ms) when `record`. */
async function pass(ms, record) {
  const lat = [];
  const end = performance.now() + ms;
  for (let i = 0; performance.now() < end; i++) {
    const k = key(i);
    if (op === "del") await c.set(k, value);
    const t = performance.now();
    if (op === "get") {
      if ((await c.get(k)).length !== value.length) throw new Error("bad value");
    } else if (op === "set") await c.set(k, value);
    else await c.del(k);
    if (record) lat.push(performance.now() - t);
  }
  return lat;
}

if (warmupMs > 0) await pass(warmupMs, false);
const c0 = process.cpuUsage();
const lat = await pass(durationMs, true);
const cpu = process.cpuUsage(c0);
c.close();
const inCalls = lat.reduce((a, b) => a + b, 0);
lat.sort((a, b) => a - b);
const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? 0;
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const out = {
  client: kind,
  op,
  requests: lat.length,
  ops_per_sec: Math.round((lat.length * 1000) / inCalls),
  latency_ms: { p50: round(pct(50)), p99: round(pct(99)), max: round(lat.at(-1) ?? 0) },
  cpu_us_per_op: round((cpu.user + cpu.system) / Math.max(1, lat.length), 1),
  runtime: typeof globalThis.Bun !== "undefined" ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`,
};
writeFileSync(arg("out"), JSON.stringify(out));
process.exit(0);
