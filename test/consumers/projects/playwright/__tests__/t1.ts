import * as hush from "hush-broker";
import { createRequire } from "node:module";
import { test } from "../fixtures";

const scenario = createRequire(import.meta.url)("../../scenario.cjs");

test("4 workers share one hush daemon", async ({ hush: client, hushSlot }, testInfo) => {
  await scenario(hush, import.meta.url, { client, slot: hushSlot, index: testInfo.parallelIndex });
});
