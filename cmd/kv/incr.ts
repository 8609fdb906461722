/** `hush kv incr KEY [--by N]`. @module */
import { defineCommand } from "citty";
import { parseInteger } from "../../src/config/index.ts";
import { credentialArgs, jsonArgs, kvTtlArg, optTtl, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "incr", description: "Add to an integer counter and print the new value." },
  args: {
    key: { type: "positional", required: true, description: "key" },
    by: { type: "string", description: "amount (default 1; negative allowed)", valueHint: "N" },
    ...kvTtlArg,
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const by = args.by === undefined ? 1 : parseInteger(args.by, "--by", { min: -Number.MAX_SAFE_INTEGER });
    const value = await (await workerClient(args)).incr(args.key, by, { ttlMs: optTtl(args.ttl, "store") });
    if (args.json) printJson({ value });
    else process.stdout.write(`${value}\n`);
    return 0;
  },
});
