/**
 * Figures for several daemons on one Redis (docs/CLUSTER.md), in the same run
 * (run through bench/cluster, which finds a Bun to run this with):
 *   memory   one `hush serve` keeping its state in memory (the default)
 *   redis×1  one `hush serve --backend` on a private redis-server (unix socket, no persistence)
 *   redis×2  two such daemons on that Redis, loaded at the same time (ops/s summed)
 * For each op (get, set) and in-flight count (32: throughput; 1: latency), `--repeat` times,
 * in an order that rotates with the repeat, `hush bench --socket` loads each daemon through
 * the signed SDK. Ratios are taken within each repeat, then the median and the spread over the
 * repeats are printed; "Redis adds" is redis×1's p50 / p99 minus memory's, at 1 in flight.
 * redis-server is started here (installed with apt-get when missing and we are root).
 * @module
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`usage: bench/cluster [--duration 5] [--repeat 3] [--inflight 32,1] [--ops get,set] [--json FILE]
environment: HUSH (default dist/hush)`);
  process.exit(0);
}
const root = resolve(import.meta.dir, "..");
const hush = process.env.HUSH || join(root, "dist/hush");
const durationS = arg("duration", "5");
const repeat = Number(arg("repeat", "3"));
const inflights = arg("inflight", "32,1").split(",");
const ops = arg("ops", "get,set").split(",");
if (!existsSync(hush)) {
  console.error(`cluster: ${hush} is missing; build first: npx bun release/build.ts --quiet`);
  process.exit(2);
}

async function run(cmd: string[], env: Record<string, string> = {}): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd: root, env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${code}: ${err.trim().slice(-400)}`);
  return out;
}

if (!Bun.which("redis-server") && process.getuid?.() === 0 && Bun.which("apt-get")) {
  console.error("cluster: installing redis-server with apt-get …");
  await run(["apt-get", "install", "-y", "-q", "redis-server"], { DEBIAN_FRONTEND: "noninteractive" }).catch((e) => console.error(String(e)));
}
if (!Bun.which("redis-server")) {
  console.error("cluster: redis-server is needed (apt-get install redis-server)");
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), "hush-cluster-"));
const procs: ReturnType<typeof Bun.spawn>[] = [];
const cleanup = () => {
  for (const p of procs) p.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.on("SIGINT", () => (cleanup(), process.exit(130)));

async function waitFor(path: string, what: string) {
  for (let i = 0; i < 200 && !existsSync(path); i++) await Bun.sleep(50);
  if (!existsSync(path)) throw new Error(`${what} did not create ${path}`);
}

/** A daemon on `name`/hush.sock (extra args: the backend), and a worker credential for it. */
async function daemon(name: string, extra: string[]): Promise<{ sock: string; cred: string }> {
  const sock = join(dir, name, "hush.sock");
  const cred = join(dir, `${name}.cred`);
  procs.push(Bun.spawn([hush, "serve", "--socket", sock, "--key-rate", "0", "--replay-cache-per-key", "1000000", "--log-level", "warn", ...extra], { stdout: "ignore", stderr: "ignore" }));
  await waitFor(sock, `hush serve (${name})`);
  await Bun.sleep(200);
  const issued = await run([hush, "workers", "issue", "--name", "bench", "--json"], { HUSH_SOCKET: sock });
  writeFileSync(cred, JSON.parse(issued).credential, { mode: 0o600 });
  return { sock, cred };
}

interface Cell {
  ops: number;
  p50: number;
  p99: number;
}
const bench = async (d: { sock: string; cred: string }, op: string, c: string): Promise<Cell> => {
  const r = JSON.parse(await run([hush, "bench", "--socket", d.sock, "--credential-file", d.cred, "--op", op, "--connections", c, "--duration", `${durationS}s`, "--json"]));
  if (r.errors) throw new Error(`hush bench: ${r.errors} errors: ${JSON.stringify(r.error_kinds)}`);
  return { ops: r.ops_per_sec, p50: r.latency_ms.p50, p99: r.latency_ms.p99 };
};

const results: Record<string, Record<string, Cell[]>> = {};
const load0 = loadavg();
try {
  const redisSock = join(dir, "redis", "redis.sock");
  mkdirSync(join(dir, "redis"), { mode: 0o700 });
  procs.push(
    Bun.spawn(["redis-server", "--port", "0", "--unixsocket", redisSock, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"], { stdout: "ignore", stderr: "ignore" }),
  );
  await waitFor(redisSock, "redis-server");
  const key = join(dir, "cluster.key");
  await run([hush, "keygen", "cluster", "--out", key]);
  const backend = ["--backend", `redis+unix://localhost${redisSock}`, "--cluster-key-file", key];
  const mem = await daemon("mem", []);
  const r1 = await daemon("r1", backend);
  const r2 = await daemon("r2", backend);
  const systems: Record<string, (op: string, c: string) => Promise<Cell>> = {
    memory: (op, c) => bench(mem, op, c),
    "redis×1": (op, c) => bench(r1, op, c),
    "redis×2": async (op, c) => {
      const [a, b] = await Promise.all([bench(r1, op, c), bench(r2, op, c)]);
      return { ops: a.ops + b.ops, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99) };
    },
  };
  const names = Object.keys(systems);
  for (let k = 0; k < repeat; k++) {
    for (const op of ops) {
      for (const c of inflights) {
        const row = (results[`${op}@${c}`] ??= {});
        for (let i = 0; i < names.length; i++) {
          const s = names[(i + k) % names.length]!;
          (row[s] ??= []).push(await systems[s]!(op, c));
        }
      }
      console.error(`cluster: ${op} run ${k + 1}/${repeat} done (load ${loadavg()[0]!.toFixed(1)})`);
    }
  }
} finally {
  cleanup();
}
const load1 = loadavg();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const spread = (xs: number[], d = 2) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})` : "");
const per = (row: Record<string, Cell[]>, f: (i: number) => number) => row.memory!.map((_, i) => f(i));
const lines: string[] = [];
lines.push("| op | in flight | memory | redis×1 | redis×2 (sum) | redis×1 / memory | redis×2 / memory | redis×2 / redis×1 |");
lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [key, row] of Object.entries(results)) {
  const [op, c] = key.split("@");
  const show = (s: string) => {
    const xs = row[s]!;
    const m = median(xs.map((x) => x.ops));
    const mid = xs.find((x) => x.ops === m)!;
    return `${m}/s (p50 ${mid.p50.toFixed(3)}, p99 ${mid.p99.toFixed(3)} ms)`;
  };
  const ratio = (a: string, b: string) => {
    const rs = per(row, (i) => row[a]![i]!.ops / row[b]![i]!.ops);
    return `${median(rs).toFixed(2)}×${spread(rs)}`;
  };
  lines.push(`| ${op} | ${c} | ${show("memory")} | ${show("redis×1")} | ${show("redis×2")} | ${ratio("redis×1", "memory")} | ${ratio("redis×2", "memory")} | ${ratio("redis×2", "redis×1")} |`);
}
lines.push("");
lines.push("| op | Redis adds at 1 in flight: p50 | p99 |");
lines.push("| --- | --- | --- |");
for (const op of ops) {
  const row = results[`${op}@1`];
  if (!row) continue;
  const d50 = per(row, (i) => row["redis×1"]![i]!.p50 - row.memory![i]!.p50);
  const d99 = per(row, (i) => row["redis×1"]![i]!.p99 - row.memory![i]!.p99);
  lines.push(`| ${op} | ${median(d50).toFixed(3)} ms${spread(d50, 3)} | ${median(d99).toFixed(3)} ms${spread(d99, 3)} |`);
}
lines.push("");
const version = await Bun.file("/proc/version").text().then((s) => s.split(" ")[2], () => "?");
const redisV = (await run(["redis-server", "--version"])).match(/v=(\S+)/)?.[1] ?? "?";
lines.push(
  `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Linux ${version}, redis-server ${redisV} (unix socket, no persistence); ` +
    `${durationS} s per cell, ${repeat} repeats; hush bench defaults (value 100 B, 1000 keys, ws transport); ` +
    `load average ${load0.map((x) => x.toFixed(2)).join(" ")} at start, ${load1.map((x) => x.toFixed(2)).join(" ")} at end.`,
);
console.log(lines.join("\n"));
const jsonOut = arg("json", "");
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ results, load: { start: load0, end: load1 } }, null, 2));
