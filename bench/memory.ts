/**
 * Daemon memory per stored item and idle RSS.
 *
 *   bun bench/memory.ts [--items 10000] [--value-size 100] [--settle 70] [--daemon "CMD"]
 *
 * 1. external: a private `hush serve` (separate process, like production):
 *    idle RSS after start; RSS after N writes to one key (control: request
 *    garbage, nonce entries, allocator growth, no new items); RSS after N
 *    writes to N distinct keys; the difference / N is the per-item cost.
 *    Then the N keys are overwritten again. No forced GC is possible from
 *    outside, so this is an upper bound.
 * 2. in-process: the daemon from source in this process, `Bun.gc(true)`
 *    before each reading: RSS and JS heap (bun:jsc heapStats) per item.
 * Prints one JSON object.
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { heapStats } from "bun:jsc";
import { Client } from "../src/client/index.ts";
import { provision, startPrivateDaemon } from "../src/bench/daemon.ts";
import { startDaemon } from "../src/server/daemon.ts";
import { mintCredential } from "../src/server/routes-admin.ts";
import { DEFAULTS } from "../src/config/index.ts";
import { Logger } from "../src/observe/index.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const items = Number(arg("items", "10000"));
const valueSize = Number(arg("value-size", "100"));
const value = "x".repeat(valueSize);
const MiB = 1048576;

/** N writes, 16 at a time: to N distinct keys, or (control) all to one key. */
async function fill(client: Client, distinct = true, conns = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: conns }, async () => {
      for (let i = next++; i < items; i = next++) await client.set(distinct ? `mem:${i}` : "mem:warm", value, { ttlMs: 3600_000 });
    }),
  );
}

// 1. External daemon.
const d = await startPrivateDaemon({ command: arg("daemon"), serveArgs: ["--max-items", String(items + 100), "--key-rate", "0"] });
let external: Record<string, number | null>;
try {
  await Bun.sleep(1000);
  const idle = d.rss();
  const { credential } = await provision(d.socket, "get", valueSize, true);
  const client = new Client({ socket: d.socket, credential, autoRekey: false });
  // Warm the request path first (JIT, HTTP buffers) with writes to one key, so the delta is the store's.
  for (let i = 0; i < 2000; i++) await client.set("mem:warm", value, { ttlMs: 3600_000 });
  await Bun.sleep(1000);
  // Control: the same number of requests without new items (request garbage, nonce entries, allocator growth).
  await fill(client, false);
  await Bun.sleep(2000);
  const warm = d.rss();
  await fill(client);
  await Bun.sleep(2000);
  const filled = d.rss();
  await fill(client);
  await Bun.sleep(2000);
  const refilled = d.rss();
  client.close();
  // After the clock window the request nonces have expired and been swept; the daemon's own GC has had time to run.
  const settleS = Number(arg("settle", "0"));
  if (settleS > 0) await Bun.sleep(settleS * 1000);
  const settled = settleS > 0 ? d.rss() : null;
  external = {
    idle_rss_mib: idle && idle / MiB,
    warm_rss_mib: warm && warm / MiB,
    filled_rss_mib: filled && filled / MiB,
    refilled_rss_mib: refilled && refilled / MiB,
    bytes_per_item: warm && filled ? Math.round((filled - warm) / items) : null,
    bytes_per_item_after_overwrite: warm && refilled ? Math.round((refilled - warm) / items) : null,
    settled_after_s: settleS || null,
    settled_rss_mib: settled && settled / MiB,
    bytes_per_item_settled: warm && settled ? Math.round((settled - warm) / items) : null,
  };
} finally {
  await d.stop();
}

// 2. In-process, with forced GC.
const dir = mkdtempSync(join(tmpdir(), "hush-mem-"));
const daemon = await startDaemon(
  { ...DEFAULTS, socketPath: join(dir, "hush.sock"), keyRate: { rate: 0, burst: 0 }, limits: { ...DEFAULTS.limits, maxItems: items + 100 } } as any,
  { version: "bench", log: new Logger({ level: "error" }) },
);
const rec = daemon.state.registry.create({ kind: "worker", name: "mem", via: "issue" });
const client = new Client({ socket: daemon.socketPath, credential: mintCredential(daemon.state, rec), autoRekey: false });
for (let i = 0; i < 2000; i++) await client.set("mem:warm", value, { ttlMs: 3600_000 });
const settle = async () => {
  // The nonce cache holds one entry per request for the clock window; measure the store, not it.
  daemon.state.verifier.nonces.clear();
  for (let i = 0; i < 3; i++) {
    Bun.gc(true);
    await Bun.sleep(200);
  }
  return { rss: process.memoryUsage().rss, heap: heapStats().heapSize };
};
const before = await settle();
await fill(client);
const after = await settle();
client.close();
await daemon.stop();
rmSync(dir, { recursive: true, force: true });

console.log(
  JSON.stringify(
    {
      items,
      value_size: valueSize,
      external,
      in_process: {
        rss_before_mib: before.rss / MiB,
        rss_after_mib: after.rss / MiB,
        rss_bytes_per_item: Math.round((after.rss - before.rss) / items),
        js_heap_bytes_per_item: Math.round((after.heap - before.heap) / items),
      },
    },
    (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 10) / 10 : v),
    1,
  ),
);
process.exit(0);
