/**
 * EXPERIMENT: the same bench with the SDK's transport (Bun `fetch`) and with
 * a minimal raw HTTP/1.1 transport (src/bench/rawhttp.ts), against the same
 * kind of private daemon, to show how much of the client's cost is `fetch`.
 * Every request is still signed and every answer verified by the SDK Client.
 *
 *   bun bench/sdk-transport.ts [--ops get,set,ping] [--connections 32,1] [--duration 5s]
 *                              [--transports fetch,raw] [--daemon "CMD"] [--repeat 1]
 * @module
 */
import { runBench, type BenchReport } from "../src/bench/run.ts";
import { createRawUnixTransport } from "../src/bench/rawhttp.ts";
import { isOpName } from "../src/bench/ops.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ops = arg("ops", "get,set,ping")!.split(",");
const conns = arg("connections", "32,1")!.split(",").map(Number);
const transports = arg("transports", "fetch,raw")!.split(",");
const durationMs = Number(arg("duration", "5s")!.replace(/s$/, "")) * 1000;
const repeat = Number(arg("repeat", "1"));
const daemonCommand = arg("daemon");
const json = argv.includes("--json");

const rows: string[][] = [];
const reports: (BenchReport & { transport: string })[] = [];
for (const op of ops) {
  if (!isOpName(op)) throw new Error(`unknown op ${op}`);
  for (const c of conns) {
    for (const t of transports) {
      for (let k = 0; k < repeat; k++) {
        const r = await runBench({
          op,
          connections: c,
          durationMs,
          warmupMs: 1000,
          valueSize: 100,
          keys: 1000,
          daemonCommand,
          transport: t === "raw" ? (s) => createRawUnixTransport(s) : undefined,
        });
        reports.push({ ...r, transport: t });
        const l = r.latency_ms;
        rows.push([op, String(c), t, String(r.ops_per_sec), String(r.errors), l.p50.toFixed(3), l.p99.toFixed(3), String(r.cpu_us_per_op.daemon), String(r.cpu_us_per_op.client)]);
        if (!json) console.error(rows[rows.length - 1].join("\t"));
      }
    }
  }
}
if (json) console.log(JSON.stringify(reports));
else {
  const header = ["op", "conns", "transport", "ops/s", "errors", "p50 ms", "p99 ms", "daemon µs/op", "client µs/op"];
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(w[i])).join("  "));
}
