/**
 * KV listing cost (issue 10): a private compiled daemon holding `--keys`
 * keys (10 000 by default) with 256-byte names, listed in pages.
 *
 *   bun bench/listing.ts [--keys 10000] [--listers 4] [--seconds 5]
 *                        [--daemon ./dist/hush] [--serve-args "--max-list 1000 …"]
 *
 * 1. Cost per page: one client pages through every key again and again
 *    (waiting out `rate_limited` answers, as a client should); wall time
 *    (p50/p90) and daemon CPU per page, and bytes per page (response body).
 * 2. Another worker's latency: it reads one key in a loop for `--seconds`,
 *    first alone (the anchor), then while `--listers` clients page through
 *    the store without pause; p50/p90/p99 and the ratio to the anchor. Each
 *    lister is its own process (this file with `--lister`, its credential in
 *    HUSH_CREDENTIAL), so that their parsing does not delay the probe.
 * The per-key rate limit is off; the listing budget (--list-rate) is the
 * daemon's default unless `--serve-args` changes it. Prints one JSON object. Against a daemon
 * without paging (older binaries), a "page" is the whole listing.
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
const nKeys = Number(arg("keys", "10000"));
const listers = Number(arg("listers", "4"));
const seconds = Number(arg("seconds", "5"));
const compiled = resolve(import.meta.dir, "../dist/hush");
const daemonCmd = arg("daemon", existsSync(compiled) ? compiled : undefined);
const extra = (arg("serve-args", "--replay-cache-per-key 1000000") ?? "").split(/\s+/).filter(Boolean);

/**
 * Page through every key under `prefix` once, as a well-behaved client: a
 * `rate_limited` page (the daemon's --list-rate) is retried after its
 * Retry-After. Returns pages, keys, body bytes and each page's latency (ns).
 */
async function pass(c: Client, prefix: string, h?: Histogram) {
  let pages = 0;
  let bytes = 0;
  let keys = 0;
  let waits = 0;
  let cursor: string | undefined;
  do {
    const t = Bun.nanoseconds();
    let p;
    try {
      p = await c.listPage(prefix, { cursor });
    } catch (e: any) {
      if (e?.code !== "rate_limited") throw e;
      waits++;
      await Bun.sleep(1000 * Number(e.detail?.retryAfter ?? 1));
      continue;
    }
    h?.record(Bun.nanoseconds() - t);
    pages++;
    keys += p.keys.length;
    bytes += JSON.stringify({ keys: p.keys, next_cursor: p.nextCursor }).length;
    cursor = p.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return { pages, bytes, keys, waits };
}

if (argv.includes("--lister")) {
  // A listing client of part 2: page through the store for `--seconds`, then print the page count.
  const c = Client.fromEnv({ autoRekey: false, retries: 0 });
  const end = performance.now() + seconds * 1000;
  let pages = 0;
  while (performance.now() < end) pages += (await pass(c, "list/")).pages;
  console.log(pages);
  c.close();
  process.exit(0);
}

const d = await startPrivateDaemon({ command: daemonCmd, serveArgs: ["--key-rate", "0", "--no-mlock", "--max-items", String(nKeys + 100), ...extra] });
try {
  const admin = new AdminClient({ socket: d.socket, retries: 0 });
  const issue = async (name: string) => new Client({ socket: d.socket, credential: (await admin.call("POST", "/v1/admin/workers", { name })).credential, autoRekey: false, retries: 0 });
  const seeder = await issue("seed");
  // 256-byte names, as in the issue's measurement.
  const name = (i: number) => `list/${String(i).padStart(6, "0")}/`.padEnd(256, "x");
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let i = next++; i < nKeys; i = next++) await seeder.set(name(i), i, { ttlMs: 3600_000 });
  }));

  // 1. Cost per page.
  const lister = await issue("lister");
  const first = await pass(lister, "list/"); // warm
  if (first.keys !== nKeys) throw new Error(`listed ${first.keys} keys, expected ${nKeys}`);
  let pages = 0;
  let bytes = 0;
  let waits = 0;
  const pageNs = new Histogram();
  const cpu0 = d.cpuMs() ?? 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000 || pages < 50) {
    const r = await pass(lister, "list/", pageNs);
    pages += r.pages;
    bytes += r.bytes;
    waits += r.waits;
  }
  const cpuMs = (d.cpuMs() ?? 0) - cpu0;

  // 2. Another worker's latency, alone and while `listers` clients list.
  const probe = await issue("probe");
  const measure = async () => {
    const h = new Histogram();
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const t = Bun.nanoseconds();
      await probe.get(name(7));
      h.record(Bun.nanoseconds() - t);
    }
    return h;
  };
  await measure(); // warm
  const anchor = await measure();
  const creds = await Promise.all(Array.from({ length: listers }, async (_, i) => (await admin.call("POST", "/v1/admin/workers", { name: `lister-${i}` })).credential as string));
  const children = creds.map((credential) =>
    Bun.spawn([process.execPath, import.meta.path, "--lister", "--seconds", String(seconds + 1)], {
      env: { ...process.env, HUSH_SOCKET: d.socket, HUSH_CREDENTIAL: credential },
      stdout: "pipe",
      stderr: "inherit",
    }),
  );
  await Bun.sleep(500); // the listers are running
  const loaded = await measure();
  let listed = 0;
  for (const c of children) listed += Number(await new Response(c.stdout).text());

  const ms = (h: Histogram, p: number) => Math.round((h.percentile(p) / 1e6) * 1000) / 1000;
  const row = (h: Histogram) => ({ n: h.count, p50_ms: ms(h, 50), p90_ms: ms(h, 90), p99_ms: ms(h, 99) });
  console.log(
    JSON.stringify(
      {
        daemon: daemonCmd ?? "source",
        serve_args: extra,
        keys: nKeys,
        key_bytes: 256,
        per_page: {
          pages_per_listing: first.pages,
          wall_ms_p50: ms(pageNs, 50),
          wall_ms_p90: ms(pageNs, 90),
          daemon_cpu_ms: Math.round((cpuMs / pages) * 1000) / 1000,
          body_bytes: Math.round(bytes / pages),
          pages_measured: pages,
          rate_limited_waits: waits,
        },
        other_worker_get: { anchor: row(anchor), with_listers: row(loaded), listers, pages_listed_meanwhile: listed, p90_ratio: Math.round((loaded.percentile(90) / anchor.percentile(90)) * 100) / 100 },
      },
      null,
      1,
    ),
  );
  for (const c of [seeder, lister, probe]) c.close();
  admin.close();
} finally {
  await d.stop();
}
