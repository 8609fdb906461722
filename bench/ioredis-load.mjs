/**
 * Redis through ioredis under the same load loop as bench/sdk-load.mjs, in
 * Bun or Node: `--inflight` workers share one ioredis connection (commands
 * are pipelined on it, as the hush SDK pipelines its messages).
 *
 *   node bench/ioredis-load.mjs --socket S --op get|set [--inflight 32] [--duration 5] [--value-size 100] [--keys 1000]
 *
 * Prints one JSON line.
 * @module
 */
import Redis from "ioredis";
import { arg, runLoad } from "./_load.mjs";

const op = arg("op", "get");
const inflight = Number(arg("inflight", "32"));
const keys = Number(arg("keys", "1000"));
const value = "x".repeat(Number(arg("value-size", "100")));
const redis = new Redis({ path: arg("socket"), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
await redis.connect();
const key = (i) => `bench:k:${i % keys}`;
if (op === "get") {
  const p = redis.pipeline();
  for (let i = 0; i < keys; i++) p.set(key(i), value, "PX", 600_000);
  await p.exec();
}
const run =
  op === "get"
    ? async (_w, i) => {
        if ((await redis.get(key(i)))?.length !== value.length) throw new Error("bad value");
      }
    : (_w, i) => redis.set(key(i), value, "PX", 600_000);
const r = await runLoad(run, { inflight, durationMs: Number(arg("duration", "5")) * 1000, warmupMs: 1000 });
redis.disconnect();
console.log(JSON.stringify({ system: "ioredis", op, inflight, ...r }));
process.exit(0);
