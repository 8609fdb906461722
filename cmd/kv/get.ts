/** `hush kv get KEY`. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "get", description: "Print a value. Strings print raw; other JSON prints as JSON." },
  args: { key: { type: "positional", required: true, description: "key" }, ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("GET", `/v1/kv/${encodeURIComponent(args.key)}`);
    if (args.json) printJson(r);
    else process.stdout.write((typeof r.value === "string" ? r.value : JSON.stringify(r.value)) + "\n");
    return 0;
  },
});
