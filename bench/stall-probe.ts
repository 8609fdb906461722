/**
 * Event-loop stall probe for a running daemon: a separate process that asks
 * `GET /v1/health` every `interval` ms (one request in flight) and records
 * each answer's latency. A request that arrives while the daemon's event
 * loop is blocked waits for the block to end, so the worst latency bounds
 * the longest stall from above. On a shared machine it also counts time the
 * daemon spent waiting for a core; given the daemon's PID, the probe also
 * reads the CPU time the daemon used (all threads, /proc, 10 ms ticks)
 * during each request, so that time when the daemon was not running at all
 * can be told apart from time when it was busy.
 *
 *   bun bench/stall-probe.ts SOCKET [INTERVAL_MS] [PID]
 *
 * Runs until its stdin closes, then prints one JSON line:
 * {"samples":[[startEpochMs, latencyMs, daemonCpuMs | null], …]} (latency -1: failed).
 * @module
 */
import { createUnixTransport } from "../src/client/index.ts";
import { readCpuMs } from "../src/bench/daemon.ts";

const [socket, intervalArg, pidArg] = process.argv.slice(2);
if (!socket) throw new Error("usage: stall-probe.ts SOCKET [INTERVAL_MS] [PID]");
const pid = pidArg ? Number(pidArg) : undefined;
const interval = Number(intervalArg ?? 5);
const t = createUnixTransport(socket, { retries: 0, timeoutMs: 60_000 });
const samples: [number, number, number | null][] = [];
let running = true;
(async () => {
  for await (const _ of process.stdin as any);
  running = false;
})();
while (running) {
  const cpu0 = readCpuMs(pid);
  const start = performance.now();
  const at = Date.now();
  let latency = -1;
  try {
    await t.request("GET", "/v1/health", {});
    latency = performance.now() - start;
  } catch {}
  const cpu1 = readCpuMs(pid);
  samples.push([at, latency, cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null]);
  const wait = interval - (performance.now() - start);
  if (wait > 0) await Bun.sleep(wait);
}
t.close();
process.stdout.write(JSON.stringify({ samples }) + "\n");
process.exit(0);
