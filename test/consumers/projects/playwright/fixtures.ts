import { test as base } from "@playwright/test";
import { hushFixtures, type HushWorkerFixtures } from "hush-broker/playwright";

export const test = base.extend<{}, HushWorkerFixtures>(hushFixtures());
