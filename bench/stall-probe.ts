/**
 * Event-loop stall probe for a running daemon: a separate process that asks
 * `GET /v1/health` every `interval` ms (one request in flight) and records
 * each answer's latency. A request that arrives while the daemon's event
 * loop is blocked waits for the block to end, so the worst latency bounds
 * the longest stall from above (it also includes this machine's scheduling
 * noise, so read it as an upper bound).
 *
 *   bun bench/stall-probe.ts SOCKET [INTERVAL_MS]
 *
 * Runs until its stdin closes, then prints one JSON line:
 * {"samples":[[startEpochMs, latencyMs], …]}.
 * @module
 */
import { createUnixTransport } from "../src/client/index.ts";

const [socket, intervalArg] = process.argv.slice(2);
if (!socket) throw new Error("usage: stall-probe.ts SOCKET [INTERVAL_MS]");
const interval = Number(intervalArg ?? 5);
const t = createUnixTransport(socket, { retries: 0, timeoutMs: 60_000 });
const samples: [number, number][] = [];
let running = true;
(async () => {
  for await (const _ of process.stdin as any);
  running = false;
})();
while (running) {
  const start = performance.now();
  const at = Date.now();
  try {
    await t.request("GET", "/v1/health", {});
    samples.push([at, performance.now() - start]);
  } catch {
    samples.push([at, -1]);
  }
  const wait = interval - (performance.now() - start);
  if (wait > 0) await Bun.sleep(wait);
}
t.close();
process.stdout.write(JSON.stringify({ samples }) + "\n");
process.exit(0);
