/**
 * A ready-made global teardown (`globalTeardown: "hush-broker/global-teardown"`,
 * needed by jest; vitest and Playwright use the function the global setup
 * returns): stops the daemon that `hush-broker/global-setup` started, wipes
 * its store and restores the environment.
 * @module
 */
import { teardownRun } from "./runner.ts";

export default function globalTeardown(): Promise<void> {
  return teardownRun();
}
