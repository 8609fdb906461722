/**
 * hush next to Redis, side by side in one run, as ratios (run through
 * bench/compare, which finds a Bun to run this with).
 *
 * For each op (get, set) and in-flight count (32, 1), interleaved, `--repeat` times:
 *   - redis-benchmark -c C (C client, no auth)
 *   - ioredis (bench/ioredis-load.mjs), in Bun and in Node: C requests in flight on one connection
 *   - the hush SDK from dist/sdk/index.mjs (bench/sdk-load.mjs), in Bun and in Node: C requests
 *     in flight, every one signed and every answer verified, over the SDK's default transport
 *     (one WebSocket connection); `--transports ws,http` adds HTTP
 * then `hush bench --op join` (joins/s). `--baseline DIR` adds the same hush columns for another
 * checkout (its dist/hush, its SDK build and bench/sdk-load.mjs, against its own daemon), run
 * right after this one's in every cell: before/after side by side with Redis. Ratios are taken within each repeat (same minute, same
 * noise), then the median and the spread (min–max) over the repeats are printed, with the targets
 * of the performance issue. redis-server is installed with apt-get when it is missing and we are
 * root (CI); otherwise only hush is measured.
 * @module
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readCpuMs } from "../src/bench/daemon.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`usage: bench/compare [--duration 5] [--repeat 3] [--inflight 32,1] [--ops get,set] [--transports ws] [--value-size 100] [--keys 1000] [--baseline DIR] [--json FILE]
environment: HUSH (default dist/hush); needs node ≥ 20 on PATH for the Node columns`);
  process.exit(0);
}
const root = resolve(import.meta.dir, "..");
const durationS = Number(arg("duration", "5").replace(/s$/, ""));
const repeat = Number(arg("repeat", "3"));
const inflights = arg("inflight", "32,1").split(",").map(Number);
const ops = arg("ops", "get,set").split(",");
const transports = arg("transports", "ws").split(",");
const valueSize = arg("value-size", "100");
const keys = arg("keys", "1000");
const hush = process.env.HUSH || join(root, "dist/hush");
const baseline = arg("baseline", "") ? resolve(arg("baseline", "")) : "";
// A baseline checkout's SDK is dist/sdk/index.mjs, or dist/client.mjs before the npm packaging.
const hasSdk = (dir: string) => existsSync(join(dir, "dist/sdk/index.mjs")) || existsSync(join(dir, "dist/client.mjs"));
if (baseline && (!existsSync(join(baseline, "dist/hush")) || !hasSdk(baseline))) {
  console.error(`compare: --baseline ${baseline} has no dist/hush or SDK build (dist/sdk/index.mjs); build it first`);
  process.exit(2);
}
if (!existsSync(hush) || !existsSync(join(root, "dist/sdk/index.mjs"))) {
  console.error(`compare: ${hush} or dist/sdk/index.mjs is missing; build first: npx bun release/build.ts --quiet`);
  process.exit(2);
}
const have = (cmd: string) => Bun.which(cmd) !== null;
const node = have("node") ? "node" : undefined;

async function run(cmd: string[], env: Record<string, string> = {}, cwd = root): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd, env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${code}: ${err.trim().slice(-400)}`);
  return out;
}

/** redis-server and redis-benchmark, installed with apt-get if missing and we may. */
async function ensureRedis(): Promise<boolean> {
  if (have("redis-server") && have("redis-benchmark")) return true;
  if (process.getuid?.() === 0 && have("apt-get")) {
    console.error("compare: installing redis-server and redis-tools with apt-get …");
    try {
      await run(["apt-get", "install", "-y", "-q", "redis-server", "redis-tools"], { DEBIAN_FRONTEND: "noninteractive" });
    } catch {
      await run(["apt-get", "update", "-q"]).catch(() => "");
      await run(["apt-get", "install", "-y", "-q", "redis-server", "redis-tools"], { DEBIAN_FRONTEND: "noninteractive" }).catch((e) => console.error(String(e)));
    }
  }
  if (have("redis-server") && have("redis-benchmark")) return true;
  console.error("compare: no redis-server / redis-benchmark (apt-get install redis-server redis-tools); measuring hush only.");
  return false;
}

interface Cell {
  ops: number;
  p50: number;
  p99: number;
  /** CPU µs per request: the client's, and the daemon's for hush. */
  clientUs?: number;
  daemonUs?: number;
}

async function redisBenchmark(sock: string, op: string, c: number): Promise<Cell> {
  const once = async (n: number) => {
    const out = await run(["redis-benchmark", "-s", sock, "-c", String(c), "-n", String(n), "-r", keys, "-d", valueSize, "-t", op, "--csv"]);
    const line = out.trim().split("\n").find((l) => l.startsWith(`"${op.toUpperCase()}"`));
    if (!line) throw new Error(`redis-benchmark printed no ${op} line: ${out}`);
    const f = line.split(",").map((x) => Number(x.replace(/"/g, "")));
    return { ops: f[1]!, p50: f[4]!, p99: f[6]! };
  };
  const probe = await once(c === 1 ? 5_000 : 20_000);
  return once(Math.max(10_000, Math.round(probe.ops * durationS)));
}

function fromJson(out: string): Cell {
  const r = JSON.parse(out.trim().split("\n").pop()!);
  if (r.errors) throw new Error(`${r.errors} errors: ${r.first_error}`);
  return { ops: r.ops_per_sec, p50: r.latency_ms.p50, p99: r.latency_ms.p99, clientUs: r.cpu_us_per_op };
}

const dir = mkdtempSync(join(tmpdir(), "hush-compare-"));
const redisSock = join(dir, "redis.sock");
const hushSock = join(dir, "h", "hush.sock");
const credFile = join(dir, "bench.cred");
let redis: ReturnType<typeof Bun.spawn> | undefined;
let daemon: ReturnType<typeof Bun.spawn> | undefined;
let baseDaemon: ReturnType<typeof Bun.spawn> | undefined;
const cleanup = () => {
  redis?.kill();
  daemon?.kill("SIGTERM");
  baseDaemon?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.on("SIGINT", () => (cleanup(), process.exit(130)));

/** results[cellKey][system] = one Cell per repeat */
const results: Record<string, Record<string, Cell[]>> = {};
const joins: number[] = [];
const load0 = loadavg()[0]!;
const withRedis = await ensureRedis();
try {
  if (withRedis) {
    redis = Bun.spawn(["redis-server", "--port", "0", "--unixsocket", redisSock, "--unixsocketperm", "700", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 100 && !existsSync(redisSock); i++) await Bun.sleep(50);
    if (!existsSync(redisSock)) throw new Error("redis-server did not create its socket");
  }
  // One daemon for every hush cell. One credential serves all workers, as in `hush bench`: the per-key
  // rate limit and replay-cache share (policies for many workers) would measure the limiter instead.
  /** A private daemon from `exe` on `sock`, and a worker credential for it in `cred`. */
  const startDaemon = async (exe: string, sock: string, cred: string) => {
    // --replay-cache: the cells of one minute can pass the default's 2 000 000 live nonces (about
    // 33 000 requests/s sustained); this measures throughput, not that cap (docs/PERFORMANCE.md).
    const p = Bun.spawn([exe, "serve", "--socket", sock, "--key-rate", "0", "--replay-cache", "8000000", "--replay-cache-per-key", "8000000", "--log-level", "warn"], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200 && !existsSync(sock); i++) await Bun.sleep(50);
    await Bun.sleep(200);
    const issued = await run([exe, "workers", "issue", "--name", "bench", "--json"], { HUSH_SOCKET: sock });
    writeFileSync(cred, JSON.parse(issued).credential, { mode: 0o600 });
    return p;
  };
  daemon = await startDaemon(hush, hushSock, credFile);
  const baseSock = join(dir, "b", "hush.sock");
  const baseCred = join(dir, "base.cred");
  if (baseline) baseDaemon = await startDaemon(join(baseline, "dist/hush"), baseSock, baseCred);

  const runtimes: [string, string][] = [["bun", process.execPath], ...(node ? ([["node", node]] as [string, string][]) : [])];
  for (let k = 0; k < repeat; k++) {
    for (const op of ops) {
      for (const c of inflights) {
        const cell = (results[`${op}@${c}`] ??= {});
        const put = (system: string, v: Cell) => (cell[system] ??= []).push(v);
        const common = ["--op", op, "--inflight", String(c), "--duration", String(durationS), "--value-size", valueSize, "--keys", keys];
        if (withRedis) {
          put("redis-benchmark", await redisBenchmark(redisSock, op, c));
          for (const [rt, exe] of runtimes) put(`ioredis/${rt}`, fromJson(await run([exe, "bench/ioredis-load.mjs", "--socket", redisSock, ...common])));
        }
        for (const t of transports) {
          for (const [rt, exe] of runtimes) {
            const d0 = readCpuMs(daemon.pid)!;
            const v = fromJson(await run([exe, "bench/sdk-load.mjs", "--socket", hushSock, "--credential-file", credFile, "--transport", t, ...common]));
            // Warm-up (1 s) included in the daemon's CPU; scale by the measured share of the requests.
            v.daemonUs = Math.round((((readCpuMs(daemon.pid)! - d0) * 1000) / (v.ops * (durationS + 1))) * 10) / 10;
            put(`hush-${t}/${rt}`, v);
            if (!baseDaemon) continue;
            const b0 = readCpuMs(baseDaemon.pid)!;
            const b = fromJson(await run([exe, "bench/sdk-load.mjs", "--socket", baseSock, "--credential-file", baseCred, "--transport", t, ...common], {}, baseline));
            b.daemonUs = Math.round((((readCpuMs(baseDaemon.pid)! - b0) * 1000) / (b.ops * (durationS + 1))) * 10) / 10;
            put(`baseline-${t}/${rt}`, b);
          }
        }
        console.error(`compare: ${op}@${c} run ${k + 1}/${repeat} done`);
      }
    }
    const j = JSON.parse(await run([hush, "bench", "--op", "join", "--connections", "32", "--duration", `${durationS}s`, "--json"]));
    joins.push(j.ops_per_sec);
  }
} finally {
  cleanup();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const spread = (xs: number[]) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : "");
/** Per-repeat ratio a/b, then median and spread. */
const ratio = (cell: Record<string, Cell[]>, a: string, b: string) => {
  if (!cell[a] || !cell[b]) return { text: "-", value: NaN };
  const rs = cell[a]!.map((x, i) => x.ops / cell[b]![i]!.ops);
  return { text: median(rs).toFixed(2) + spread(rs), value: median(rs) };
};

const lines: string[] = [];
const systems = [...new Set(Object.values(results).flatMap((c) => Object.keys(c)))];
lines.push("| op | in flight | " + systems.join(" | ") + " |");
lines.push("| --- | --- |" + systems.map(() => " --- |").join(""));
for (const [key, cell] of Object.entries(results)) {
  const [op, c] = key.split("@");
  const show = (s: string) => {
    const xs = cell[s];
    if (!xs) return "-";
    const m = median(xs.map((x) => x.ops));
    const mid = xs.find((x) => x.ops === m)!;
    const cpu = mid.daemonUs !== undefined ? `, ${mid.clientUs} + ${mid.daemonUs} µs` : mid.clientUs !== undefined ? `, ${mid.clientUs} µs` : "";
    return `${Math.round(m)}/s (p99 ${mid.p99.toFixed(2)} ms${cpu})`;
  };
  lines.push(`| ${op} | ${c} | ${systems.map(show).join(" | ")} |`);
}
lines.push("");
lines.push("| target | measured (median, spread over repeats) | met |");
lines.push("| --- | --- | --- |");
const target = (name: string, r: { text: string; value: number }, ok: (v: number) => boolean) => lines.push(`| ${name} | ${r.text} | ${Number.isNaN(r.value) ? "?" : ok(r.value) ? "yes" : "no"} |`);
const t = transports[0];
for (const op of ops) {
  const c32 = results[`${op}@32`];
  const c1 = results[`${op}@1`];
  if (c32) target(`${op} at 32 in flight, hush (Bun SDK) ≥ 0.8 × redis-benchmark -c 32`, ratio(c32, `hush-${t}/bun`, "redis-benchmark"), (v) => v >= 0.8);
  if (c1) {
    target(`${op} sequential, hush (Bun SDK) ≥ 0.6 × redis-benchmark -c 1`, ratio(c1, `hush-${t}/bun`, "redis-benchmark"), (v) => v >= 0.6);
    target(`${op} sequential, hush ≥ 0.8 × ioredis, in Bun`, ratio(c1, `hush-${t}/bun`, "ioredis/bun"), (v) => v >= 0.8);
    target(`${op} sequential, hush ≥ 0.8 × ioredis, in Node`, ratio(c1, `hush-${t}/node`, "ioredis/node"), (v) => v >= 0.8);
    const p99 = median((c1[`hush-${t}/bun`] ?? []).map((x) => x.p99));
    lines.push(`| ${op} sequential, p99 ≤ 1 ms (Bun SDK) | ${p99.toFixed(2)} ms | ${p99 <= 1 ? "yes" : "no"} |`);
  }
  for (const c of inflights) {
    const cell = results[`${op}@${c}`];
    if (cell) target(`${op} at ${c} in flight, Node SDK within 1.5 × of the Bun SDK (Bun / Node ≤ 1.5)`, ratio(cell, `hush-${t}/bun`, `hush-${t}/node`), (v) => v <= 1.5);
    if (cell && baseline) {
      for (const rt of ["bun", "node"]) {
        const rb = ratio(cell, `baseline-${t}/${rt}`, "redis-benchmark");
        if (!Number.isNaN(rb.value)) lines.push(`| ${op} at ${c} in flight, baseline (${rt} SDK) / redis-benchmark, for comparison | ${rb.text} | - |`);
        target(`${op} at ${c} in flight, this build / baseline (${rt} SDK), > 1 is faster`, ratio(cell, `hush-${t}/${rt}`, `baseline-${t}/${rt}`), (v) => v > 1);
      }
    }
  }
}
lines.push("");
lines.push(`joins/s (hush bench --op join, 32 connections): ${joins.map(String).join(", ")}`);
const version = await Bun.file("/proc/version").text().then((s) => s.split(" ")[2], () => "?");
lines.push(
  `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Linux ${version}, Bun ${Bun.version}${node ? `, Node ${(await run([node, "--version"])).trim()}` : ""}; ` +
    `${durationS} s per cell, ${repeat} repeats; value ${valueSize} B, ${keys} keys; load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end. ` +
    `Cells: ops/s (p99; client + daemon CPU µs per request).`,
);
console.log(lines.join("\n"));
const jsonOut = arg("json", "");
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ results, joins }, null, 2));
