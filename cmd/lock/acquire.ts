/** `hush lock acquire NAME --ttl D`: prints the fencing token. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, leaseTtlArg, optTtl, printJson, workerClient } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "acquire",
    description: "Acquire a lock and print its fencing token (exit 4 when someone else holds it).",
  },
  args: {
    name: { type: "positional", required: true, description: "lock name" },
    ...leaseTtlArg,
    holder: { type: "string", description: "holder label (recorded with the lock)", valueHint: "NAME" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/locks/${encodeURIComponent(args.name)}`, { ttl_ms: optTtl(args.ttl, "store"), holder: args.holder });
    if (args.json) printJson(r);
    else process.stdout.write(`${r.token}\n`);
    return 0;
  },
});
