/**
 * `hush bench`: load a daemon and report throughput and latency percentiles.
 * By default it starts its own private daemon as a separate process, issues
 * itself a credential through the admin socket, and removes everything after.
 * @module
 */
import { defineCommand } from "citty";
import { oneOf } from "./_argv.ts";
import { credentialArgs, jsonArgs, parseDuration, printJson, printTable, socketArgs, socketOwner } from "./_shared.ts";
import { loadCredential } from "./_credentials.ts";
import { parsePositiveInt } from "../src/config/index.ts";
import { HushError } from "../src/errors.ts";
import { OPS } from "../src/bench/ops.ts";
import { runBench, type BenchReport } from "../src/bench/run.ts";
import { transportKind } from "../src/client/index.ts";

const durationOrZero = (s: string, what: string) => (s === "0" ? 0 : parseDuration(s, what));
const mib = (b: number | null) => (b === null ? "-" : (b / 1048576).toFixed(1) + " MiB");

export default defineCommand({
  meta: { name: "bench", description: "Measure a hush daemon: ops/s and latency percentiles through the signed SDK." },
  args: {
    op: { type: "string", description: `operation: ${OPS.join(", ")} (default get)`, valueHint: "OP" },
    connections: { type: "string", alias: "c", description: "requests in flight (default 32): pipelined on the SDK's WebSocket connections (two once calls overlap), or one HTTP connection each with --transport http", valueHint: "N" },
    transport: { type: "string", description: "how the SDK carries requests: ws (default, or $HUSH_TRANSPORT) or http", valueHint: "ws|http" },
    duration: { type: "string", description: "measure for this long (default 10s)", valueHint: "DURATION" },
    requests: { type: "string", alias: "n", description: "measure this many operations instead of a duration", valueHint: "N" },
    "value-size": { type: "string", description: "length of the value set/get/checkout use (default 100)", valueHint: "BYTES" },
    keys: { type: "string", description: "distinct keys get and set cycle through (default 1000)", valueHint: "N" },
    rate: { type: "string", description: "pace to this many ops/s in total (default: as fast as possible)", valueHint: "N" },
    warmup: { type: "string", description: "unmeasured warm-up first (default 1s; 0 for none)", valueHint: "DURATION" },
    sample: { type: "string", description: "sample the daemon's RSS and the rate this often, e.g. 5s", valueHint: "DURATION" },
    daemon: { type: "string", description: "command that runs hush for the private daemon (default: this hush)", valueHint: "CMD" },
    // Unix socket only (not --url): a bench of a remote controller would measure the network.
    ...socketArgs,
    "credential-file": credentialArgs["credential-file"],
    ...jsonArgs,
  },
  async run({ args }) {
    const op = oneOf(args.op || "get", "--op", OPS);
    if (args.duration && args.requests) throw new HushError("invalid_request", "give --duration or --requests, not both");
    const int = (v: string | undefined, flag: string, dflt?: number) => (v ? parsePositiveInt(v, flag) : dflt);
    // An existing daemon needs a worker credential; the private one issues its own.
    const credential = args.socket && op !== "ping" && op !== "join" ? loadCredential(args["credential-file"]) : undefined;
    const durationMs = args.requests ? undefined : parseDuration(args.duration || "10s", "--duration");
    const requests = int(args.requests, "--requests");
    const progress = process.stderr.isTTY ? progressLine(durationMs, requests) : undefined;
    const r = await runBench({
      op,
      connections: int(args.connections, "--connections", 32)!,
      requests,
      durationMs,
      warmupMs: durationOrZero(args.warmup || "1s", "--warmup"),
      rate: int(args.rate, "--rate"),
      valueSize: args["value-size"] === "0" ? 0 : int(args["value-size"], "--value-size", 100)!,
      keys: int(args.keys, "--keys", 1000)!,
      socket: args.socket || undefined,
      socketOwner: socketOwner(args),
      credential,
      daemonCommand: args.daemon || undefined,
      sampleMs: args.sample ? parseDuration(args.sample, "--sample") : undefined,
      onProgress: progress?.update,
      carrier: transportKind({ transport: args.transport || undefined }),
    }).finally(() => progress?.clear());
    if (args.json) printJson(r);
    else printReport(r);
    return r.errors === 0 ? 0 : 1;
  },
});

/** A one-line progress display on stderr (a terminal only), rewritten in place. */
function progressLine(durationMs: number | undefined, requests: number | undefined) {
  let shown = false;
  const write = (s: string) => ((shown = true), process.stderr.write(`\r\x1b[K${s}`));
  return {
    update(phase: "daemon" | "warmup" | "measure", p?: { elapsedMs: number; done: number; errors: number; recentRate: number }) {
      if (phase === "daemon") return write("bench: starting a private daemon…");
      if (!p) return write(phase === "warmup" ? "bench: warming up…" : "bench: measuring…");
      const of = phase === "warmup" ? "" : durationMs ? ` / ${(durationMs / 1000).toFixed(0)}s` : requests ? `, ${p.done} / ${requests} ops` : "";
      const errors = p.errors ? `, ${p.errors} errors` : "";
      write(`bench: ${phase === "warmup" ? "warming up" : "measuring"} ${(p.elapsedMs / 1000).toFixed(0)}s${of}, ${Math.round(p.recentRate)} ops/s${errors}`);
    },
    clear() {
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

function printReport(r: BenchReport): void {
  const l = r.latency_ms;
  const f = (x: number) => x.toFixed(3);
  printTable(
    ["op", "conns", "requests", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms"],
    [[r.op, String(r.connections), String(r.requests), String(r.errors), String(r.ops_per_sec), f(l.p50), f(l.p90), f(l.p99), f(l.p999)]],
  );
  const out: string[] = [];
  out.push(`duration ${(r.duration_ms / 1000).toFixed(1)} s, value ${r.value_size} B, max ${f(l.max)} ms${r.rate ? `, paced to ${r.rate} ops/s` : ""}`);
  if (r.daemon.private) out.push(`daemon RSS ${mib(r.daemon.rss_before)} before, ${mib(r.daemon.rss_after)} after (pid ${r.daemon.pid})`);
  const cpu = r.cpu_us_per_op;
  out.push(`CPU per op: ${cpu.daemon === null ? "" : `daemon ${cpu.daemon} µs, `}load generator ${cpu.client} µs`);
  if (r.samples.length) {
    out.push("samples (s, RSS, ops/s, errors):");
    for (const s of r.samples) out.push(`  ${(s.t_ms / 1000).toFixed(0).padStart(4)}  ${mib(s.rss).padStart(10)}  ${String(s.ops_per_sec).padStart(7)}  ${s.errors}`);
  }
  for (const [m, n] of Object.entries(r.error_kinds)) out.push(`error ×${n}: ${m}`);
  process.stdout.write(out.join("\n") + "\n");
}
