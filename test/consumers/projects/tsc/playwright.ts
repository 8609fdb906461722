// The worker fixtures in Playwright's own types: test.extend accepts them as they are.
import { test as base } from "@playwright/test";
import { hushFixtures, type HushWorkerFixtures } from "hush-broker/playwright";

export const test = base.extend<{}, HushWorkerFixtures>(hushFixtures());

test("types", async ({ hush, hushSlot }) => {
  const n: number = await hush.incr("n", 1, { ttlMs: 1_000 });
  const slot: number = hushSlot.slot;
  void [n, slot];
});
