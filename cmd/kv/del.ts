/** `hush kv del KEY`. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, printJson, workerClient } from "../_shared.ts";

export default defineCommand({
  meta: { name: "del", description: "Delete a key (exit 3 when it did not exist)." },
  args: { key: { type: "positional", required: true, description: "key" }, ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const deleted = await (await workerClient(args)).del(args.key);
    if (args.json) printJson({ deleted });
    return deleted ? 0 : 3;
  },
});
