/**
 * Worker fixtures for Playwright Test (`hush-broker/playwright`), with the
 * run's daemon from `globalSetup: "hush-broker/global-setup"`:
 *
 *   import { test as base } from "@playwright/test";
 *   import { hushFixtures, type HushWorkerFixtures } from "hush-broker/playwright";
 *   export const test = base.extend<{}, HushWorkerFixtures>(hushFixtures());
 *
 * `hush` is one `Client` per worker process; `hushSlot` is that worker's
 * lease in the pool "workers" (holder `worker-<parallelIndex>`), released
 * when the worker stops. hush does not import @playwright/test: the
 * fixtures are plain functions in the shape `test.extend` takes.
 * @module
 */
import { Client, type Lease } from "./client.ts";
import { leaseWorkerSlot, type WorkerSlotOptions } from "./runner.ts";

export interface HushWorkerFixtures {
  hush: Client;
  hushSlot: Lease;
}

/** The part of Playwright's WorkerInfo these fixtures read. */
export interface PlaywrightWorkerInfo {
  parallelIndex: number;
}

/** A worker-scoped fixture in the tuple form of `test.extend`. */
export type WorkerFixture<R, Args> = [(args: Args, use: (value: R) => Promise<void>, workerInfo: PlaywrightWorkerInfo) => Promise<void>, { scope: "worker" }];

/** `opts` picks the pool (`pool`, `size`, `ttlMs`; see `leaseWorkerSlot`). */
export function hushFixtures(opts: Omit<WorkerSlotOptions, "index"> = {}): {
  hush: WorkerFixture<Client, {}>;
  hushSlot: WorkerFixture<Lease, { hush: Client }>;
} {
  return {
    hush: [
      // Playwright reads the fixture's dependencies from this destructuring pattern.
      async ({}, use) => {
        const client = Client.fromEnv();
        try {
          await use(client);
        } finally {
          client.close();
        }
      },
      { scope: "worker" },
    ],
    hushSlot: [
      async ({ hush }, use, workerInfo) => {
        const lease = await leaseWorkerSlot(hush, { ...opts, index: workerInfo.parallelIndex });
        try {
          await use(lease);
        } finally {
          await lease.release();
        }
      },
      { scope: "worker" },
    ],
  };
}
