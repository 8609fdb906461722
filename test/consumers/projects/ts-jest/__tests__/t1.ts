import * as hush from "hush-broker";
import scenario = require("../../scenario.cjs");

// ts-jest type-checks this file (and scenario.d.cts) against the package's .d.ts files.
test("4 workers share one hush daemon", () => scenario(hush, expect.getState().testPath ?? "t1.ts"), 60_000);
