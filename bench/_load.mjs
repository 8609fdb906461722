/**
 * The closed load loop shared by bench/sdk-load.mjs and bench/ioredis-load.mjs
 * (plain ESM, so the same file runs in Bun and in Node): `inflight` workers,
 * each with one operation outstanding, the next started as soon as the last
 * is done, for `durationMs` after a warm-up. Latency per operation in a
 * sorted array (exact percentiles). Prints nothing.
 * @module
 */

/**
 * @param {(w: number, i: number) => Promise<unknown>} op
 * @param {{ inflight: number, durationMs: number, warmupMs?: number }} o
 */
export async function runLoad(op, o) {
  const pass = async (ms, record) => {
    const end = performance.now() + ms;
    const lat = [];
    let errors = 0;
    let n = 0;
    const first = {};
    await Promise.all(
      Array.from({ length: o.inflight }, async (_, w) => {
        while (performance.now() < end) {
          const t = performance.now();
          try {
            await op(w, n++);
          } catch (e) {
            errors++;
            first.error ??= String(e?.message ?? e).slice(0, 200);
          }
          if (record) lat.push(performance.now() - t);
        }
      }),
    );
    return { lat, errors, firstError: first.error };
  };
  if (o.warmupMs !== 0) await pass(o.warmupMs ?? 1000, false);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await pass(o.durationMs, true);
  const el = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  r.lat.sort((a, b) => a - b);
  const pct = (p) => (r.lat.length ? r.lat[Math.min(r.lat.length - 1, Math.floor((p / 100) * r.lat.length))] : 0);
  const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    ops_per_sec: Math.round((r.lat.length * 1000) / el),
    requests: r.lat.length,
    errors: r.errors,
    first_error: r.firstError ?? null,
    latency_ms: { p50: round(pct(50)), p99: round(pct(99)), max: round(r.lat.at(-1) ?? 0) },
    cpu_us_per_op: round((cpu.user + cpu.system) / Math.max(1, r.lat.length), 1),
    runtime: typeof globalThis.Bun !== "undefined" ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`,
  };
}

/** `--name value` from argv, with a default. */
export function arg(name, dflt) {
  const a = process.argv.slice(2);
  const i = a.indexOf(`--${name}`);
  return i >= 0 ? a[i + 1] : dflt;
}
