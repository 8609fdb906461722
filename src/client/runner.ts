/**
 * Test-runner glue shared by the ready-made global setup files and the
 * Playwright fixtures: one private daemon per test run (started in the
 * runner's main process, handed to its workers through HUSH_SOCKET and
 * HUSH_CREDENTIAL, which workers inherit), and one pool slot per worker,
 * keyed by the runner's worker index.
 *
 * Worker index, 0-based: vitest `VITEST_POOL_ID` − 1, jest `JEST_WORKER_ID`
 * − 1, Playwright `TEST_PARALLEL_INDEX` (each below the runner's worker count
 * and reused by a replacement worker).
 * @module
 */
import { HushError } from "../errors.ts";
import type { Client, Lease } from "./client.ts";
import { startDaemon, type HushDaemon, type StartDaemonOptions } from "./daemon.ts";

/** Set by the global setup: the runner's worker count (the default pool size of `leaseWorkerSlot`). */
export const WORKERS_ENV = "HUSH_TEST_WORKERS";

const RUN = Symbol.for("hush-broker.test-run");
type Env = Record<string, string | undefined>;
interface Run {
  daemon: HushDaemon | undefined;
  saved: Env;
}

/** This worker's index (0-based) in the test runner. Throws HushError `invalid_request` outside a runner's worker. */
export function workerIndex(env: Env = process.env): number {
  const pick = (v: string | undefined, base: number) => (v !== undefined && /^\d+$/.test(v) ? Number(v) - base : undefined);
  const i = pick(env.VITEST_POOL_ID, 1) ?? pick(env.JEST_WORKER_ID, 1) ?? pick(env.TEST_PARALLEL_INDEX, 0);
  if (i === undefined || i < 0) {
    throw new HushError("invalid_request", "not in a vitest, jest or Playwright worker (VITEST_POOL_ID, JEST_WORKER_ID and TEST_PARALLEL_INDEX are unset); pass { index }");
  }
  return i;
}

export interface WorkerSlotOptions {
  /** Pool name. Default "workers". */
  pool?: string;
  /** Pool size. Default: the runner's worker count, as recorded by the global setup (HUSH_TEST_WORKERS). */
  size?: number;
  /** Lease time in ms. Default 3600000 (one hour; the run's end wipes it anyway). */
  ttlMs?: number;
  /** Worker index. Default: `workerIndex()`. */
  index?: number;
}

/**
 * Lease this worker's slot of a pool: the holder is `worker-<index>`, so
 * every call from the same worker (every test file it runs) gets the same
 * slot, and no two workers share one. Throws HushError `conflict` when the
 * pool is full, `invalid_request` when no size is known.
 */
export async function leaseWorkerSlot(client: Client, opts: WorkerSlotOptions = {}): Promise<Lease> {
  const size = opts.size ?? Number(process.env[WORKERS_ENV]);
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new HushError("invalid_request", `no pool size: pass { size } (${WORKERS_ENV} is set only by hush-broker's global setup)`);
  }
  const index = opts.index ?? workerIndex();
  return client.lease(opts.pool ?? "workers", { size, ttlMs: opts.ttlMs ?? 3_600_000, holder: `worker-${index}` });
}

/** The worker count from what a runner passes to its global setup: jest's globalConfig, Playwright's FullConfig, vitest's TestProject. */
export function runnerWorkers(ctx: unknown): number | undefined {
  const c = ctx as { maxWorkers?: unknown; workers?: unknown; config?: { maxWorkers?: unknown }; globalConfig?: { maxWorkers?: unknown } } | undefined;
  for (const v of [c?.maxWorkers, c?.workers, c?.config?.maxWorkers, c?.globalConfig?.maxWorkers]) {
    if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
  }
  return undefined;
}

/**
 * Start the run's daemon and publish it to the workers through the
 * environment; returns the teardown. When HUSH_SOCKET and HUSH_CREDENTIAL
 * are already set (the runner was started with `hush run -- …`), that daemon
 * is used and nothing is started.
 */
export async function setupRun(ctx?: unknown, opts: StartDaemonOptions = {}): Promise<() => Promise<void>> {
  const g = globalThis as { [RUN]?: Run };
  if (g[RUN]) throw new HushError("conflict", "hush-broker's global setup already ran in this process");
  const keys = ["HUSH_SOCKET", "HUSH_CREDENTIAL", WORKERS_ENV] as const;
  const run: Run = { daemon: undefined, saved: Object.fromEntries(keys.map((k) => [k, process.env[k]])) };
  if (!(process.env.HUSH_SOCKET && process.env.HUSH_CREDENTIAL)) {
    run.daemon = await startDaemon({ name: "test-run", ...opts });
    Object.assign(process.env, run.daemon.env);
  }
  const workers = runnerWorkers(ctx);
  if (workers !== undefined) process.env[WORKERS_ENV] = String(workers);
  g[RUN] = run;
  return teardownRun;
}

/** Stop the daemon that `setupRun` started and restore the environment. Does nothing when none runs. */
export async function teardownRun(): Promise<void> {
  const g = globalThis as { [RUN]?: Run };
  const run = g[RUN];
  if (!run) return;
  delete g[RUN];
  for (const [k, v] of Object.entries(run.saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await run.daemon?.stop();
}
