import * as hush from "hush-broker";
import scenario from "../../scenario.cjs";

test("4 workers share one hush daemon", () => scenario(hush, import.meta.url), 60_000);
