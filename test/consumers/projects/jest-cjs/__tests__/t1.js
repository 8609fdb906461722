const hush = require("hush-broker");
const scenario = require("../../scenario.cjs");

test("4 workers share one hush daemon", () => scenario(hush, __filename), 60_000);
