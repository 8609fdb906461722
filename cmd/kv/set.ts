/** `hush kv set KEY [--ttl D] [--if-absent] [--slide]`: the value comes from stdin or --value-file, never argv. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { credentialArgs, jsonArgs, kvTtlArg, optTtl, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";
import { allowEmptyArg, readValue, valueFileArg } from "../_value.ts";

export default defineCommand({
  meta: {
    name: "set",
    description: "Store the value read from stdin or --value-file (one trailing newline is dropped).",
  },
  args: {
    key: { type: "positional", required: true, description: "key" },
    ...kvTtlArg,
    "if-absent": { type: "boolean", description: "write only if the key does not exist (exit 4 and change nothing if it does)" },
    slide: {
      type: "boolean",
      description: "every read pushes the expiry out by the TTL (never past 30d after this write); --no-slide turns it off on a daemon with --sliding-ttl",
    },
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
    const body = { value, ttl_ms: optTtl(args.ttl, "store"), if_absent: args["if-absent"], slide: args.slide };
    const r = await c.call("PUT", `/v1/kv/${encodeURIComponent(args.key)}`, body);
    if (!r.written) throw new HushError("conflict", `key exists: ${args.key} (not written: --if-absent)`);
    if (args.json) printJson(r);
    return 0;
  },
});
