/** `hush kv ttl KEY`: the remaining time to live in ms, or `none`. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: {
    name: "ttl",
    description: "Print a key's remaining time to live in milliseconds, or `none` if it never expires (exit 3 when missing). Does not count as a read.",
  },
  args: { key: { type: "positional", required: true, description: "key" }, ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const r = await (await workerClient(args)).call("GET", `/v1/kv/${encodeURIComponent(args.key)}/ttl`);
    if (args.json) printJson(r);
    else process.stdout.write(`${r.ttl_ms ?? "none"}\n`);
    return 0;
  },
});
