/**
 * hush next to ephemeral-broker (`@ephemeral-broker/core`, its published
 * package), per call, one sequential client, in the same run (run through
 * bench/compare-eb, which finds a Bun to run this with).
 *
 * Each cell starts its daemon the way its users do and runs one load process
 * (bench/eb-load.mjs) under it, in Node and in Bun:
 *   hush-sdk     `hush run -- RT bench/eb-load.mjs --client hush-sdk`     (the SDK, its default transport)
 *   hush-compat  `hush run -- RT bench/eb-load.mjs --client hush-compat`  (hush-broker/ephemeral-broker)
 *   eb           `ephemeral-broker start -- RT bench/eb-load.mjs --client eb`
 *   eb-hmac      the same with BROKER_SECRET and CLIENT_SECRET set (a fresh random secret, in the environment)
 * For each repeat, op (get, set, del) and runtime the four run back to back, in an order that
 * rotates with the repeat (paired, interleaved: a ratio compares runs of the same minute). Ratios
 * are taken within each repeat, then the median and spread (min–max) over repeats are printed.
 * @ephemeral-broker/core comes from node_modules (a devDependency), else it is installed from the
 * npm registry into a temporary directory.
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

const EB_VERSION = "1.0.5";
const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`usage: bench/compare-eb [--duration 3] [--warmup 1] [--repeat 3] [--ops get,set,del] [--runtimes node,bun]
       [--systems hush-sdk,hush-compat,eb,eb-hmac] [--value-size 100] [--keys 1000] [--json FILE]
environment: HUSH (default dist/hush); node ≥ 20 on PATH for the Node rows`);
  process.exit(0);
}
const root = resolve(import.meta.dir, "..");
const durationS = arg("duration", "3");
const warmupS = arg("warmup", "1");
const repeat = Number(arg("repeat", "3"));
const ops = arg("ops", "get,set,del").split(",");
const systems = arg("systems", "hush-sdk,hush-compat,eb,eb-hmac").split(",");
const valueSize = arg("value-size", "100");
const keys = arg("keys", "1000");
const hush = process.env.HUSH || join(root, "dist/hush");
for (const f of [hush, join(root, "dist/sdk/index.mjs"), join(root, "dist/sdk/ephemeral-broker.mjs")]) {
  if (!existsSync(f)) {
    console.error(`compare-eb: ${f} is missing; build first: npx bun release/build.ts --quiet`);
    process.exit(2);
  }
}
const node = Bun.which("node");
const runtimes = arg("runtimes", node ? "node,bun" : "bun")
  .split(",")
  .map((rt) => [rt, rt === "bun" ? process.execPath : node!] as const);

const dir = mkdtempSync(join(tmpdir(), "hush-compare-eb-"));
process.on("SIGINT", () => (rmSync(dir, { recursive: true, force: true }), process.exit(130)));

/** The package's directory: node_modules, else `npm install` from the registry into `dir`. */
async function ebPackage(): Promise<string> {
  try {
    return dirname(createRequire(join(root, "package.json")).resolve("@ephemeral-broker/core/package.json"));
  } catch {
    console.error(`compare-eb: installing @ephemeral-broker/core@${EB_VERSION} from the npm registry …`);
    const p = Bun.spawnSync(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", join(dir, "eb"), `@ephemeral-broker/core@${EB_VERSION}`], { stdout: "ignore", stderr: "inherit" });
    if (p.exitCode !== 0) throw new Error("npm install @ephemeral-broker/core failed");
    return join(dir, "eb/node_modules/@ephemeral-broker/core");
  }
}

interface Cell {
  ops_per_sec: number;
  latency_ms: { p50: number; p99: number; max: number };
  cpu_us_per_op: number;
}

let seq = 0;
/** One load process under its system's daemon; its JSON result. */
async function cell(system: string, op: string, rt: string, ebDir: string): Promise<Cell> {
  const out = join(dir, `r${seq++}.json`);
  const client = system.startsWith("eb") ? "eb" : system;
  const load = [rt, join(root, "bench/eb-load.mjs"), "--client", client, "--op", op, "--duration", durationS, "--warmup", warmupS, "--value-size", valueSize, "--keys", keys, "--out", out];
  const env: Record<string, string | undefined> = { ...process.env, EB_CORE: join(ebDir, "src/index.js") };
  let cmd: string[];
  if (client === "eb") {
    // `npx ephemeral-broker start -- CMD`: its bin under Node (#!/usr/bin/env node), the secret in the environment (its BROKER_SECRET / CLIENT_SECRET).
    cmd = [node ?? "node", join(ebDir, "bin/broker.js"), "start", "--", ...load];
    delete env.BROKER_SECRET;
    delete env.CLIENT_SECRET;
    if (system === "eb-hmac") env.BROKER_SECRET = env.CLIENT_SECRET = randomBytes(32).toString("hex");
  } else cmd = [hush, "run", "--", ...load];
  const p = Bun.spawn(cmd, { cwd: root, env, stdout: "ignore", stderr: "pipe" });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0 || !existsSync(out)) throw new Error(`${system}/${op}/${rt} exited ${code}: ${err.trim().slice(-600)}`);
  return JSON.parse(readFileSync(out, "utf8"));
}

const results: Record<string, Record<string, Cell[]>> = {};
const load0 = loadavg();
try {
  const ebDir = await ebPackage();
  for (let k = 0; k < repeat; k++) {
    for (const op of ops) {
      for (const [rt, exe] of runtimes) {
        const row = (results[`${op}/${rt}`] ??= {});
        // Rotate the order each repeat, so no system always runs first (or right after another's daemon).
        const order = systems.map((_, i) => systems[(i + k) % systems.length]!);
        for (const s of order) (row[s] ??= []).push(await cell(s, op, exe, ebDir));
      }
      console.error(`compare-eb: ${op} run ${k + 1}/${repeat} done (load ${loadavg()[0]!.toFixed(1)})`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const load1 = loadavg();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const spread = (xs: number[]) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})` : "");
/** Per-repeat ratio f(a)/f(b), then median and spread. */
const ratio = (row: Record<string, Cell[]>, a: string, b: string, f: (c: Cell) => number) => {
  if (!row[a] || !row[b]) return "-";
  const rs = row[a]!.map((x, i) => f(x) / f(row[b]![i]!));
  return `${median(rs).toFixed(2)}×${spread(rs)}`;
};
const lines: string[] = [];
lines.push(`| op | runtime | ${systems.join(" | ")} |`);
lines.push(`| --- | --- |${systems.map(() => " --- |").join("")}`);
for (const [key, row] of Object.entries(results)) {
  const [op, rt] = key.split("/");
  const show = (s: string) => {
    const xs = row[s];
    if (!xs) return "-";
    const m = median(xs.map((x) => x.ops_per_sec));
    const mid = xs.find((x) => x.ops_per_sec === m)!;
    return `${m}/s (p50 ${mid.latency_ms.p50.toFixed(3)}, p99 ${mid.latency_ms.p99.toFixed(3)} ms)`;
  };
  lines.push(`| ${op} | ${rt} | ${systems.map(show).join(" | ")} |`);
}
lines.push("");
const hushes = systems.filter((s) => s.startsWith("hush"));
lines.push(`| op | runtime | ${hushes.flatMap((h) => [`${h} / eb-hmac`, `${h} / eb`, `${h} p99 / eb-hmac p99`]).join(" | ")} |`);
lines.push(`| --- | --- |${hushes.flatMap(() => [" --- |", " --- |", " --- |"]).join("")}`);
for (const [key, row] of Object.entries(results)) {
  const [op, rt] = key.split("/");
  const cols = hushes.flatMap((h) => [ratio(row, h, "eb-hmac", (c) => c.ops_per_sec), ratio(row, h, "eb", (c) => c.ops_per_sec), ratio(row, h, "eb-hmac", (c) => c.latency_ms.p99)]);
  lines.push(`| ${op} | ${rt} | ${cols.join(" | ")} |`);
}
lines.push("");
const version = await Bun.file("/proc/version").text().then((s) => s.split(" ")[2], () => "?");
const nodeV = node ? Bun.spawnSync([node, "--version"]).stdout.toString().trim() : "-";
lines.push(
  `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Linux ${version}, Bun ${Bun.version}, Node ${nodeV}, @ephemeral-broker/core ${EB_VERSION}; ` +
    `${durationS} s per cell after ${warmupS} s warm-up, ${repeat} repeats; value ${valueSize} B, ${keys} keys; ` +
    `load average ${load0.map((x) => x.toFixed(2)).join(" ")} at start, ${load1.map((x) => x.toFixed(2)).join(" ")} at end. ` +
    `Cells: calls/s of one sequential client (median over repeats), with that run's p50 and p99.`,
);
console.log(lines.join("\n"));
const jsonOut = arg("json", "");
if (jsonOut) await Bun.write(jsonOut, JSON.stringify({ results, load: { start: load0, end: load1 } }, null, 2));
