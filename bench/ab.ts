/**
 * A paired A/B of two hush builds, for a busy machine: this checkout's
 * dist/hush and SDK against another checkout's (`--baseline DIR`), each
 * build's SDK (bench/sdk-load.mjs) against its own daemon, cell by cell
 * in alternating order (A then B, then B then A, …) so that neither build
 * always runs first. Reported per cell: the median of the per-round ratios
 * A/B (> 1: this build is faster) with their spread, and each side's median
 * ops/s and client + daemon CPU µs per request. `bench/compare --baseline`
 * does the same with Redis and Node beside it, at a much longer run time.
 *
 *   bun bench/ab.ts --baseline DIR [--cells get@32,set@32,get@1] [--rounds 6] [--duration 2] [--runtime bun|node]
 * @module
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readCpuMs } from "../src/bench/daemon.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const root = resolve(import.meta.dir, "..");
const baseline = resolve(arg("baseline", ""));
if (!arg("baseline", "") || !existsSync(join(baseline, "dist/hush"))) {
  console.error("usage: bun bench/ab.ts --baseline DIR [--cells get@32,set@32,get@1] [--rounds 6] [--duration 2] [--runtime bun|node]  (DIR holds a built checkout)");
  process.exit(2);
}
const cells = arg("cells", "get@32,set@32,get@1").split(",");
const rounds = Number(arg("rounds", "6"));
const duration = arg("duration", "2");
const runtime = arg("runtime", "bun") === "node" ? "node" : process.execPath;

async function run(cmd: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd, env: { ...process.env, ...env } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.slice(0, 3).join(" ")} … exited ${code}: ${err.trim().slice(-400)}`);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "hush-ab-"));
interface Side {
  name: string;
  cwd: string;
  sock: string;
  cred: string;
  proc?: ReturnType<typeof Bun.spawn>;
}
const sides: Side[] = [
  { name: "A", cwd: root, sock: join(dir, "a", "hush.sock"), cred: join(dir, "a.cred") },
  { name: "B", cwd: baseline, sock: join(dir, "b", "hush.sock"), cred: join(dir, "b.cred") },
];

async function start(s: Side): Promise<void> {
  const exe = join(s.cwd, "dist/hush");
  // A large replay cache: the rounds of one minute pass the default's (this measures throughput, not that cap).
  s.proc = Bun.spawn([exe, "serve", "--socket", s.sock, "--key-rate", "0", "--replay-cache", "8000000", "--replay-cache-per-key", "8000000", "--log-level", "warn"], { stdout: "ignore", stderr: "ignore" });
  for (let i = 0; i < 200 && !existsSync(s.sock); i++) await Bun.sleep(50);
  await Bun.sleep(200);
  const issued = await run([exe, "workers", "issue", "--name", "bench", "--json"], root, { HUSH_SOCKET: s.sock });
  writeFileSync(s.cred, JSON.parse(issued).credential, { mode: 0o600 });
}

interface Sample {
  ops: number;
  clientUs: number;
  daemonUs: number;
}

async function measure(s: Side, op: string, inflight: string): Promise<Sample> {
  const d0 = readCpuMs(s.proc!.pid)!;
  const out = await run([runtime, "bench/sdk-load.mjs", "--socket", s.sock, "--credential-file", s.cred, "--op", op, "--inflight", inflight, "--duration", duration], s.cwd);
  const r = JSON.parse(out.trim().split("\n").pop()!);
  if (r.errors) throw new Error(`${s.name}: ${r.errors} errors: ${r.first_error}`);
  // The daemon's CPU includes the 1 s warm-up: scale by the measured share of the requests.
  const daemonUs = ((readCpuMs(s.proc!.pid)! - d0) * 1000) / (r.ops_per_sec * (Number(duration) + 1));
  return { ops: r.ops_per_sec, clientUs: r.cpu_us_per_op, daemonUs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const load0 = loadavg()[0]!;
const results: Record<string, { A: Sample[]; B: Sample[] }> = {};
try {
  for (const s of sides) await start(s);
  for (let k = 0; k < rounds; k++) {
    for (const cell of cells) {
      const [op, inflight] = cell.split("@") as [string, string];
      const r = (results[cell] ??= { A: [], B: [] });
      const order = k % 2 === 0 ? sides : [...sides].reverse();
      for (const s of order) r[s.name as "A" | "B"].push(await measure(s, op, inflight));
    }
    console.error(`ab: round ${k + 1}/${rounds} done (load ${loadavg()[0]!.toFixed(1)})`);
  }
} finally {
  for (const s of sides) s.proc?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

const lines = ["| cell | A / B (median, spread) | A ops/s | B ops/s | A CPU µs/req (client + daemon) | B CPU µs/req |", "| --- | --- | --- | --- | --- | --- |"];
for (const [cell, { A, B }] of Object.entries(results)) {
  const rs = A.map((a, i) => a.ops / B[i]!.ops);
  const cpu = (xs: Sample[]) => `${median(xs.map((x) => x.clientUs)).toFixed(1)} + ${median(xs.map((x) => x.daemonUs)).toFixed(1)}`;
  lines.push(`| ${cell} | **${median(rs).toFixed(2)}** (${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}) | ${median(A.map((x) => x.ops))} | ${median(B.map((x) => x.ops))} | ${cpu(A)} | ${cpu(B)} |`);
}
lines.push(`A = ${root}, B = ${baseline}; runtime ${runtime === "node" ? "node" : `bun ${Bun.version}`}; ${rounds} rounds of ${duration} s per cell; load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end.`);
console.log(lines.join("\n"));
