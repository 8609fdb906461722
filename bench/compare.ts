/**
 * hush vs Redis, side by side on unix sockets at the same concurrency
 * (run through bench/compare, which finds a Bun to run this with).
 *
 * For each op (set, get) and concurrency (32, 1) it runs:
 *   - redis-benchmark (C client)             -c C -r KEYS -d VALUE, -n sized to --duration
 *   - bench/redis-client.ts (Bun RESP client) the same loop, histogram and process type as hush bench
 *   - hush bench --json                       a private daemon, every request signed and verified
 * and prints ops/s, p50/p99 and the ratios, plus the goals of the performance issue.
 * Installs nothing: without redis-server / redis-benchmark only hush is measured.
 * @module
 */
import { mkdtempSync, rmSync, existsSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`usage: bench/compare [--duration 5s] [--repeat 1] [--connections 32,1] [--ops set,get] [--value-size 100] [--keys 1000]
environment: HUSH (default dist/hush), HUSH_BENCH (command for "hush bench", default "$HUSH bench")`);
  process.exit(0);
}
const root = resolve(import.meta.dir, "..");
const durationS = Number(arg("duration", "5s").replace(/s$/, ""));
const repeat = Number(arg("repeat", "1"));
const conns = arg("connections", "32,1").split(",").map(Number);
const ops = arg("ops", "set,get").split(",");
const valueSize = Number(arg("value-size", "100"));
const keys = Number(arg("keys", "1000"));
const hush = process.env.HUSH || join(root, "dist/hush");
const hushBench = process.env.HUSH_BENCH ? process.env.HUSH_BENCH.split(/\s+/) : [hush, "bench"];
if (!process.env.HUSH_BENCH && !existsSync(hush)) {
  console.error(`compare: ${hush} is missing; build it first: npx bun release/build.ts --quiet`);
  process.exit(2);
}
const have = (cmd: string) => Bun.which(cmd) !== null;
const withRedis = have("redis-server") && have("redis-benchmark");
if (!withRedis) {
  console.error("compare: redis-server / redis-benchmark not found; measuring hush only.");
  console.error("compare: hint: apt-get install redis-server redis-tools   (Debian/Ubuntu; this script installs nothing)");
}

interface Cell {
  ops: number;
  p50: number;
  p99: number;
}
const median = (xs: Cell[]): Cell | null => (xs.length ? [...xs].sort((a, b) => a.ops - b.ops)[Math.floor((xs.length - 1) / 2)] : null);

async function run(cmd: string[]): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd: root });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${code}: ${err.trim().slice(-400)}`);
  return out;
}

/** redis-benchmark --csv → one cell. */
async function redisBenchmark(sock: string, op: string, c: number, n: number): Promise<Cell> {
  const out = await run(["redis-benchmark", "-s", sock, "-c", String(c), "-n", String(n), "-r", String(keys), "-d", String(valueSize), "-t", op, "--csv"]);
  const line = out.trim().split("\n").find((l) => l.startsWith(`"${op.toUpperCase()}"`));
  if (!line) throw new Error(`redis-benchmark printed no ${op} line: ${out}`);
  const f = line.split(",").map((x) => Number(x.replace(/"/g, "")));
  return { ops: f[1], p50: f[4], p99: f[6] };
}

function fromJson(out: string): Cell {
  const r = JSON.parse(out.trim().split("\n").pop()!);
  if (r.errors) throw new Error(`${r.errors} errors: ${JSON.stringify(r.error_kinds)}`);
  return { ops: r.ops_per_sec, p50: r.latency_ms.p50, p99: r.latency_ms.p99 };
}

const dir = mkdtempSync(join(tmpdir(), "hush-compare-"));
const sock = join(dir, "redis.sock");
let redis: ReturnType<typeof Bun.spawn> | undefined;
const cleanup = () => {
  redis?.kill();
  rmSync(dir, { recursive: true, force: true });
};
process.on("SIGINT", () => (cleanup(), process.exit(130)));

const results: Record<string, { rb: Cell[]; rbun: Cell[]; hush: Cell[] }> = {};
const load0 = loadavg()[0];
try {
  if (withRedis) {
    redis = Bun.spawn(["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 100 && !existsSync(sock); i++) await Bun.sleep(50);
    if (!existsSync(sock)) throw new Error("redis-server did not create its socket");
  }
  // Interleave the systems so that noise from other processes hits them alike.
  for (let k = 0; k < repeat; k++) {
    for (const op of ops) {
      for (const c of conns) {
        const key = `${op}@${c}`;
        const cell = (results[key] ??= { rb: [], rbun: [], hush: [] });
        if (withRedis) {
          const probe = await redisBenchmark(sock, op, c, 20_000);
          cell.rb.push(await redisBenchmark(sock, op, c, Math.max(20_000, Math.round(probe.ops * durationS))));
          const bunArgs = ["--socket", sock, "--op", op, "--connections", String(c), "--duration", `${durationS}s`, "--value-size", String(valueSize), "--keys", String(keys)];
          cell.rbun.push(fromJson(await run([process.execPath, join(root, "bench/redis-client.ts"), ...bunArgs])));
        }
        const hushArgs = ["--op", op, "--connections", String(c), "--duration", `${durationS}s`, "--value-size", String(valueSize), "--keys", String(keys), "--json"];
        cell.hush.push(fromJson(await run([...hushBench, ...hushArgs])));
        console.error(`compare: ${key} run ${k + 1}/${repeat} done`);
      }
    }
  }
} finally {
  cleanup();
}

// Goals from the performance issue (this machine, same run).
const GOAL: Record<string, { vsRedis?: number; abs?: number; p99?: number }> = {
  "get@32": { vsRedis: 0.8 },
  "set@32": { vsRedis: 0.7 },
  "get@1": { abs: 24_000, p99: 1 },
  "set@1": { abs: 18_000, p99: 1 },
};
const fmt = (x: number | undefined) => (x === undefined ? "-" : String(Math.round(x)));
const ratio = (a?: number, b?: number) => (a && b ? (a / b).toFixed(2) : "-");
const header = ["op", "conns", "redis-benchmark", "redis (Bun client)", "hush", "hush/redis-bm", "hush/redis-bun", "hush p50 ms", "hush p99 ms", "goal", "met"];
const rows = Object.entries(results).map(([key, r]) => {
  const [op, c] = key.split("@");
  const rb = median(r.rb);
  const rbun = median(r.rbun);
  const h = median(r.hush)!;
  const g = GOAL[key];
  let goal = "-";
  let met = "-";
  if (g?.vsRedis) {
    goal = `≥ ${g.vsRedis} × redis-bm`;
    met = rb ? (h.ops >= g.vsRedis * rb.ops ? "yes" : "no") : "?";
  } else if (g?.abs) {
    goal = `≥ ${g.abs}/s, p99 ≤ ${g.p99} ms`;
    met = h.ops >= g.abs && h.p99 <= g.p99! ? "yes" : "no";
  }
  return [op, c, fmt(rb?.ops), fmt(rbun?.ops), fmt(h.ops), ratio(h.ops, rb?.ops), ratio(h.ops, rbun?.ops), h.p50.toFixed(3), h.p99.toFixed(3), goal, met];
});
const w = header.map((hd, i) => Math.max(hd.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => r.map((x, i) => x.padEnd(w[i])).join("  ").trimEnd();
console.log([line(header), ...rows.map(line)].join("\n"));
const version = (() => {
  try {
    return readFileSync("/proc/version", "utf8").split(" ")[2];
  } catch {
    return "?";
  }
})();
console.log(
  `\n${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Linux ${version}, Bun ${Bun.version}; ${durationS}s per cell, median of ${repeat}; ` +
    `value ${valueSize} B, ${keys} keys; load average ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`,
);
