/** `hush pool lease NAME --size N --ttl D`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, jsonArgs, leaseTtlArg, optTtl, printJson, workerClient } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "lease",
    description: "Lease the smallest free slot and print `SLOT TOKEN` (exit 4 when all are taken).",
  },
  args: {
    name: { type: "positional", required: true, description: "pool name" },
    size: { type: "string", required: true, description: "number of slots", valueHint: "N" },
    ...leaseTtlArg,
    holder: { type: "string", description: "holder name: the same holder gets the same slot back", valueHint: "NAME" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/pools/${encodeURIComponent(args.name)}/lease`, {
      size: parsePositiveInt(args.size, "--size"),
      ttl_ms: optTtl(args.ttl, "store"),
      holder: args.holder,
    });
    if (args.json) printJson(r);
    else process.stdout.write(`${r.slot} ${r.token}\n`);
    return 0;
  },
});
