/**
 * One `hush bench` run: daemon (private or given), provisioning, warm-up,
 * the measured load, memory samples, and the report.
 * @module
 */
import { HushError } from "../errors.ts";
import { type BenchDaemon, provision, startPrivateDaemon } from "./daemon.ts";
import { runLoad, type LoadResult, type Operation, type Progress } from "./load.ts";
import { prepareOp, type OpName, type OpSetup } from "./ops.ts";

export interface BenchOptions {
  op: OpName;
  connections: number;
  requests?: number;
  durationMs?: number;
  warmupMs: number;
  rate?: number;
  valueSize: number;
  keys: number;
  /** Existing daemon: its hush.sock, and a worker credential. */
  socket?: string;
  credential?: string;
  /** The user that must own the given socket (default: HUSH_SOCKET_OWNER, else the caller). */
  socketOwner?: string;
  /** Command that runs `hush` for the private daemon (default: this binary). */
  daemonCommand?: string;
  /** Sample the daemon's RSS (and the recent rate) this often. */
  sampleMs?: number;
  /** Extra `hush serve` flags for the private daemon. */
  serveArgs?: string[];
  /** Progress while it runs: the phase, and during warm-up and measurement the load's progress. */
  onProgress?: (phase: "daemon" | "warmup" | "measure", p?: Progress) => void;
  /** Experiment only: another client transport (see src/bench/rawhttp.ts). */
  transport?: OpSetup["transport"];
  /** "ws" (default) or "http": how the SDK carries the requests (src/bench/ops.ts). */
  carrier?: OpSetup["carrier"];
}

export interface BenchReport {
  op: OpName;
  connections: number;
  requests: number;
  errors: number;
  duration_ms: number;
  ops_per_sec: number;
  /** Milliseconds. */
  latency_ms: { p50: number; p90: number; p99: number; p999: number; min: number; max: number; mean: number };
  value_size: number;
  keys: number;
  rate: number | null;
  daemon: { private: boolean; pid: number | null; rss_before: number | null; rss_after: number | null };
  /** CPU time per operation (µs): the daemon's (private daemon only) and this load generator's. */
  cpu_us_per_op: { daemon: number | null; client: number };
  samples: { t_ms: number; rss: number | null; ops_per_sec: number; errors: number }[];
  error_kinds: Record<string, number>;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** `hush serve` flags for the private daemon: limits that would measure themselves instead of the daemon are lifted. */
function privateServeArgs(o: BenchOptions): string[] {
  // Like `hush run`: a private daemon with one credential for every connection, so the
  // per-key rate limit (a policy, not a check) would measure the limiter instead.
  // Likewise its replay-cache share: one key sends what a fleet would. And the cache itself:
  // at the default 2 000 000 entries a run above ~33 000 requests/s for long would measure
  // that ceiling (docs/PERFORMANCE.md), not the daemon's speed; 8 000 000 takes ~480 MiB at most.
  const serveArgs: string[] = ["--key-rate", "0", "--replay-cache", "8000000", "--replay-cache-per-key", "8000000", ...(o.serveArgs ?? [])];
  if (o.keys + o.connections + 100 > 10_000) serveArgs.push("--max-items", String(o.keys + o.connections + 100));
  // The default join limit (2 000/s) would measure the limiter, not the handshake.
  if (o.op === "join") serveArgs.push("--join-rate", "1000000");
  return serveArgs;
}

/**
 * Run `o.op` against a private daemon (started here and stopped at the end)
 * or the one at `o.socket`. Throws HushError `invalid_request` (no
 * --duration/--requests, no credential for a given daemon), and whatever
 * starting or provisioning the daemon throws.
 */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  if (o.requests === undefined && o.durationMs === undefined) throw new HushError("invalid_request", "give --duration or --requests");
  let daemon: BenchDaemon | undefined;
  let socket = o.socket;
  let credential = o.credential;
  const needsCred = o.op !== "ping" && o.op !== "join";
  try {
    if (!socket) {
      o.onProgress?.("daemon");
      daemon = await startPrivateDaemon({ command: o.daemonCommand, serveArgs: privateServeArgs(o) });
      socket = daemon.socket;
    } else if (needsCred && !credential) {
      throw new HushError("invalid_request", "no credential given");
    }
    // A private daemon gets everything from its admin socket; a given one only what the op needs beyond the credential.
    const p = daemon || o.op === "checkout" || o.op === "join" ? await provision(socket, o.op, o.valueSize, !credential && needsCred, o.socketOwner) : {};
    credential ??= p.credential;
    const prepared = await prepareOp(o.op, { socket, socketOwner: o.socketOwner, credential, token: p.token, connections: o.connections, valueSize: o.valueSize, keys: o.keys, transport: o.transport, carrier: o.carrier });
    try {
      return await measure(o, prepared.run, daemon);
    } finally {
      prepared.close();
    }
  } finally {
    await daemon?.stop();
  }
}

/** Warm up, then the measured load with its samples, and the report. */
async function measure(o: BenchOptions, run: Operation, daemon: BenchDaemon | undefined): Promise<BenchReport> {
  const onProgress = (phase: "warmup" | "measure") => o.onProgress && ((p: Progress) => o.onProgress!(phase, p));
  if (o.warmupMs > 0) {
    o.onProgress?.("warmup");
    await runLoad(run, { connections: o.connections, durationMs: o.warmupMs, onProgress: onProgress("warmup") });
  }
  o.onProgress?.("measure");
  Bun.gc?.(true);
  const rssBefore = daemon?.rss() ?? null;
  const cpu0 = { daemon: daemon?.cpuMs() ?? null, client: process.cpuUsage() };
  const samples: BenchReport["samples"] = [];
  const r = await runLoad(run, {
    connections: o.connections,
    requests: o.requests,
    durationMs: o.durationMs,
    rate: o.rate,
    onProgress: onProgress("measure"),
    tickMs: o.sampleMs,
    onTick: o.sampleMs ? (pr) => samples.push({ t_ms: Math.round(pr.elapsedMs), rss: daemon?.rss() ?? null, ops_per_sec: Math.round(pr.recentRate), errors: pr.errors }) : undefined,
  });
  const dcpu = daemon?.cpuMs() ?? null;
  const ccpu = process.cpuUsage(cpu0.client);
  const perOp = (us: number) => Math.round((us / Math.max(1, r.requests)) * 10) / 10;
  return {
    op: o.op,
    connections: o.connections,
    requests: r.requests,
    errors: r.errors,
    duration_ms: Math.round(r.elapsedMs),
    ops_per_sec: Math.round(r.opsPerSec),
    latency_ms: latencies(r.histogram),
    value_size: o.valueSize,
    keys: o.keys,
    rate: o.rate ?? null,
    daemon: { private: !!daemon, pid: daemon?.pid ?? null, rss_before: rssBefore, rss_after: daemon?.rss() ?? null },
    cpu_us_per_op: {
      daemon: dcpu === null || cpu0.daemon === null ? null : perOp((dcpu - cpu0.daemon) * 1000),
      client: perOp(ccpu.user + ccpu.system),
    },
    samples,
    error_kinds: r.errorKinds,
  };
}

/** The report's latency block, in ms, from the run's histogram (ns). */
function latencies(h: LoadResult["histogram"]): BenchReport["latency_ms"] {
  const ms = (ns: number) => round3(ns / 1e6);
  return { p50: ms(h.percentile(50)), p90: ms(h.percentile(90)), p99: ms(h.percentile(99)), p999: ms(h.percentile(99.9)), min: ms(h.min), max: ms(h.max), mean: ms(h.mean) };
}
