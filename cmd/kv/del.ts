/** `hush kv del KEY`. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { credentialArgs, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "del", description: "Delete a key (exit 3 when it did not exist)." },
  args: { key: { type: "positional", required: true, description: "key" }, ...credentialArgs, ...jsonArgs },
  async run({ args }) {
    const deleted = await (await workerClient(args)).del(args.key);
    // Exit 3 like every other "not found", with its message (a JSON error object with --json).
    if (!deleted) throw new HushError("not_found", `no such key: ${args.key} (missing or expired)`);
    if (args.json) printJson({ deleted });
    return 0;
  },
});
