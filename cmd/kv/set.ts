/** `hush kv set KEY --ttl D`: the value comes from stdin or --value-file, never argv. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { credentialArgs, jsonArgs, kvTtlArg, optTtl, printJson, workerClient } from "../_shared.ts";
import { allowEmptyArg, readValue, valueFileArg } from "../_value.ts";

export default defineCommand({
  meta: {
    name: "set",
    description: "Store the value read from stdin or --value-file (one trailing newline is dropped).",
  },
  args: {
    key: { type: "positional", required: true, description: "key" },
    ...kvTtlArg,
    ...valueFileArg,
    ...allowEmptyArg,
    "json-value": { type: "boolean", description: "parse the value as JSON instead of storing it as a string" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const text = await readValue("kv set", args["value-file"], args["allow-empty"] === true);
    let value: unknown = text;
    if (args["json-value"]) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new HushError("invalid_request", "the value is not valid JSON (--json-value)");
      }
    }
    const c = await workerClient(args);
    const r = await c.set(args.key, value, { ttlMs: optTtl(args.ttl, "store") });
    if (args.json) printJson(r);
    return 0;
  },
});
