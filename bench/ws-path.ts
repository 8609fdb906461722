/**
 * One signed request's whole round of hush code over the WebSocket
 * transport, in one process and without a socket: the SDK's side (sign,
 * frame, mask) → the daemon's `websocket.message` handler (decode, the
 * request pipeline with every check, sign, encode) → the SDK's side again
 * (decode, hash the body, check the answer signature, parse the JSON).
 * Reports CPU µs per round (min and median of 7 runs), which a busy machine
 * disturbs far less than a throughput run. `--root DIR` loads another
 * checkout (same modules and API) for a before/after pair.
 *
 *   bun bench/ws-path.ts [--root DIR] [--n 140000] [--op get|set]
 * @module
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const root = resolve(arg("root", resolve(import.meta.dir, "..")));
const n = Number(arg("n", "140000"));
const op = arg("op", "get");

const { startDaemon } = await import(join(root, "src/server/daemon.ts"));
const { createWsTransport } = await import(join(root, "src/server/ws.ts"));
const { createServerMetrics } = await import(join(root, "src/server/metrics.ts"));
const { DEFAULTS } = await import(join(root, "src/config/index.ts"));
const { Logger } = await import(join(root, "src/observe/index.ts"));
const { signRequest, signResponse } = await import(join(root, "src/auth/index.ts"));
const { encodeRequest, decodeAnswer } = await import(join(root, "src/wire/frame.ts"));
const { clientFrame } = await import(join(root, "src/client/ws-bun.ts"));
const sign = await import(join(root, "src/auth/sign.ts"));

const dir = mkdtempSync(join(tmpdir(), "hush-ws-path-"));
const d = await startDaemon(
  { ...DEFAULTS, socketPath: join(dir, "hush.sock"), keyRate: { rate: 0, burst: 0 }, nonceCachePerKey: DEFAULTS.nonceCacheMax },
  { version: "bench", log: new Logger({ level: "error" }) },
);
const st = d.state;
const rec = st.registry.create({ kind: "worker", name: "bench", via: "issue" });
const ws = createWsTransport(st, createServerMetrics(st));
const value = "x".repeat(100);
const keys = 1000;

let answer: Uint8Array | undefined;
const conn = { source: "unix", opened: Date.now(), verifiedAt: 0, failing: false, n: 1, listener: "worker", peer: "unix", inFlight: 0, last: Date.now(), closing: false, seq: 0 };
const sock = { data: conn, readyState: 1, send: (b: Uint8Array) => ((answer = b), b.length), getBufferedAmount: () => 0, close() {} };

/** One round: what the SDK and the daemon each do for one call (the socket excepted). */
function once(i: number, set = op === "set"): void {
  const target = `/v1/kv/bench:k:${i % keys}`;
  const method = set ? "PUT" : "GET";
  const body = set ? JSON.stringify({ value, ttl_ms: 600_000 }) : undefined;
  const s = signRequest(rec.macKey, rec.id, { method, target, body });
  const frame = encodeRequest(i.toString(36), method, target, { authorization: s.authorization }, body);
  // The daemon gets the unmasked payload (uWS unmasks); the client's masking is still paid here.
  clientFrame(2, frame);
  ws.websocket.message(sock, Buffer.from(frame));
  const a = decodeAnswer(answer!);
  if (!a.ok || a.frame.status !== 200) throw new Error(`answer: ${a.ok ? a.frame.status + " " + a.frame.body : a.error}`);
  const bodyHash = a.frame.bytes ? sign.hashBody(a.frame.bytes) : undefined;
  const want = bodyHash !== undefined ? signResponse(rec.macKey, s.signature, 200, a.frame.body, bodyHash) : signResponse(rec.macKey, s.signature, 200, a.frame.body);
  if (want !== a.frame.headers["hush-signature"]) throw new Error("bad answer signature");
  JSON.parse(a.frame.body);
}

function run(count: number, from: number): number {
  Bun.gc(true);
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) once(from + i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

try {
  for (let i = 0; i < keys; i++) once(i, true); // the keys GET reads
  run(20_000, 0); // warm-up (JIT)
  const results: number[] = [];
  for (let k = 0; k < 7; k++) results.push(run(Math.ceil(n / 7), 20_000 + k * n));
  results.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({ root, op, n, cpu_us_per_round: { min: r2(results[0]!), median: r2(results[3]!) }, runs: results.map(r2) }));
} finally {
  ws.close();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
