/**
 * A ready-made global setup for vitest, jest and Playwright
 * (`globalSetup: "hush-broker/global-setup"`): starts one private hush
 * daemon for the test run (`startDaemon`, the installed binary's `hush run`)
 * and gives every worker HUSH_SOCKET and HUSH_CREDENTIAL, so that
 * `Client.fromEnv()` works in each of them. It also records the runner's
 * worker count in HUSH_TEST_WORKERS (the default size of `leaseWorkerSlot`).
 *
 * It returns the teardown, which vitest and Playwright call by themselves;
 * jest needs `globalTeardown: "hush-broker/global-teardown"`. Under
 * `hush run -- <runner>` it uses that daemon and starts none.
 * @module
 */
import { setupRun } from "./runner.ts";

/** `ctx`: jest's globalConfig, Playwright's FullConfig or vitest's TestProject (read for the worker count only). */
export default function globalSetup(ctx?: unknown): Promise<() => Promise<void>> {
  return setupRun(ctx);
}
