/** `hush kv list [PREFIX]`. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, printJson, workerClient } from "../_shared.ts";

export default defineCommand({
  meta: { name: "list", description: "List live keys, optionally under a prefix." },
  args: { prefix: { type: "positional", required: false, description: "key prefix" }, ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const keys = await (await workerClient(args)).list(args.prefix ?? "");
    if (args.json) printJson({ keys });
    else if (keys.length) process.stdout.write(keys.join("\n") + "\n");
    return 0;
  },
});
