/**
 * Credential leases under a flood (issue 10): one worker checks one shared
 * credential out `--checkouts` times (200 000 by default, 16 at a time)
 * against a private compiled daemon, while another worker checks an
 * exclusive credential out and returns it, one at a time.
 *
 *   bun bench/holds.ts [--checkouts 200000] [--conns 16] [--probes 400]
 *                      [--daemon ./dist/hush] [--control 20000] [--serve-args "…"]
 *
 * Reports the flood's outcomes (ok, and refusals by code), the daemon's RSS
 * before the floods and at every tenth of the checkout flood, and the other
 * worker's exclusive checkout latency (p50/p90/p99) before the flood (the
 * anchor), during it and after it. A control flood of `--control` signed
 * requests that hold nothing (whoami, same concurrency) comes first: on a
 * small machine any flood slows the other worker down by taking the CPU, so
 * "during" is compared with "during the control flood", and "after" with
 * the anchor, each measured in the same run. The daemon runs with its
 * defaults but for the per-key rate limit (off), so the lease limits and the
 * flooder's replay-cache share both act. `--serve-args` adds flags, e.g.
 * `--max-leases-per-worker 200000` to hold
 * every lease and see that checkout cost does not grow with them (or none,
 * to run an older binary). Prints one JSON object.
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { AdminClient, Client } from "../src/client/index.ts";
import { startPrivateDaemon } from "../src/bench/daemon.ts";
import { Histogram } from "../src/bench/histogram.ts";

const argv = process.argv.slice(2);
const arg = (name: string, dflt?: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const checkouts = Number(arg("checkouts", "200000"));
const conns = Number(arg("conns", "16"));
const probes = Number(arg("probes", "400"));
const control = Number(arg("control", "20000"));
const compiled = resolve(import.meta.dir, "../dist/hush");
const daemonCmd = arg("daemon", existsSync(compiled) ? compiled : undefined);
const extra = (arg("serve-args", "") ?? "").split(/\s+/).filter(Boolean);
const MiB = 1048576;

const d = await startPrivateDaemon({ command: daemonCmd, serveArgs: ["--key-rate", "0", "--no-mlock", ...extra] });
const rss: Record<string, number | null> = {};
const mib = () => Math.round(((d.rss() ?? 0) / MiB) * 10) / 10;
try {
  const admin = new AdminClient({ socket: d.socket, retries: 0 });
  await admin.call("POST", "/v1/admin/creds", { name: "bench-shared", values: ["s".repeat(64)], allow: ["bench"], mode: "shared" });
  await admin.call("POST", "/v1/admin/creds", { name: "bench-acct", values: ["a1", "a2", "a3", "a4"], allow: ["bench"], mode: "exclusive" });
  const issue = async (name: string) => new Client({ socket: d.socket, credential: (await admin.call("POST", "/v1/admin/workers", { name, tags: ["bench"] })).credential, autoRekey: false, retries: 0 });
  const flooder = await issue("flood");
  const prober = await issue("probe");

  /** One exclusive checkout + return by the other worker; the checkout's latency goes to `h` (ns). */
  const probe = async (h: Histogram) => {
    const t = Bun.nanoseconds();
    const c = await prober.checkout("bench-acct", { ttlMs: 60_000 });
    h.record(Bun.nanoseconds() - t);
    await c.return();
  };
  const warm = new Histogram();
  for (let i = 0; i < 200; i++) await probe(warm);
  await Bun.sleep(500);
  rss.before = mib();
  const anchor = new Histogram();
  for (let i = 0; i < probes; i++) await probe(anchor);

  /** `n` requests by the flooder, `conns` at a time, while the other worker probes; returns the probe histogram. */
  const flooding = async (n: number, op: (i: number) => Promise<string>) => {
    let next = 0;
    let done = false;
    const all = Promise.all(
      Array.from({ length: conns }, async () => {
        for (let i = next++; i < n; i = next++) await op(i);
      }),
    ).finally(() => (done = true));
    const h = new Histogram();
    while (!done) await probe(h);
    await all;
    return h;
  };
  const duringControl = await flooding(control, () => flooder.whoami().then(() => "ok"));
  rss.after_control_flood = mib();

  const outcomes: Record<string, number> = {};
  const t0 = performance.now();
  const cpu0 = d.cpuMs();
  const during = await flooding(checkouts, async (i) => {
    const code = await flooder.checkout("bench-shared", { ttlMs: 3600_000 }).then(() => "ok", (e) => e.code ?? "error");
    outcomes[code] = (outcomes[code] ?? 0) + 1;
    if (i % Math.ceil(checkouts / 10) === 0) rss[`at_${Math.round((i / checkouts) * 100)}pct`] = mib();
    return code;
  });
  const floodMs = performance.now() - t0;
  const cpu = (d.cpuMs() ?? 0) - (cpu0 ?? 0);
  await Bun.sleep(500);
  rss.after = mib();
  const after = new Histogram();
  for (let i = 0; i < probes; i++) await probe(after);
  const creds = (await admin.call("GET", "/v1/admin/creds")).creds;

  const ms = (h: Histogram, p: number) => Math.round((h.percentile(p) / 1e6) * 1000) / 1000;
  const row = (h: Histogram) => ({ n: h.count, p50_ms: ms(h, 50), p90_ms: ms(h, 90), p99_ms: ms(h, 99) });
  const ratio = (h: Histogram) => ({ p50: Math.round((h.percentile(50) / anchor.percentile(50)) * 100) / 100, p90: Math.round((h.percentile(90) / anchor.percentile(90)) * 100) / 100 });
  console.log(
    JSON.stringify(
      {
        daemon: daemonCmd ?? "source",
        serve_args: extra,
        checkouts,
        conns,
        flood: { outcomes, seconds: Math.round(floodMs) / 1000, per_s: Math.round(checkouts / (floodMs / 1000)), daemon_cpu_ms: cpu },
        shared_in_use_after: creds.find((c: any) => c.name === "bench-shared")?.in_use,
        rss_mib: rss,
        nonce_cache_entries_after: (await admin.call("GET", "/v1/admin/stats")).nonce_cache,
        exclusive_checkout_of_another_worker: {
          anchor: row(anchor),
          during_control_flood: row(duringControl),
          during: row(during),
          after: row(after),
          during_vs_control_flood: { p50: Math.round((during.percentile(50) / duringControl.percentile(50)) * 100) / 100, p90: Math.round((during.percentile(90) / duringControl.percentile(90)) * 100) / 100 },
          after_vs_anchor: ratio(after),
        },
      },
      null,
      1,
    ),
  );
  flooder.close();
  prober.close();
  admin.close();
} finally {
  await d.stop();
}
