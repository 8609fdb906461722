/** `hush kv set KEY --ttl D`: the value comes from stdin, never argv. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { credentialArgs, jsonArgs, optTtl, printJson, readStdin, ttlArg, workerClient } from "../_shared.ts";

export default defineCommand({
  meta: {
    name: "set",
    description: "Store the value read from stdin (one trailing newline is dropped).",
  },
  args: {
    key: { type: "positional", required: true, description: "key" },
    ...ttlArg,
    "json-value": { type: "boolean", description: "parse stdin as JSON instead of storing it as a string" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    if (process.stdin.isTTY) throw new HushError("invalid_request", "kv set reads the value from stdin; pipe it in");
    const raw = await readStdin();
    let text = new TextDecoder("utf-8", { fatal: false }).decode(raw);
    raw.fill(0);
    if (text.endsWith("\n")) text = text.slice(0, text.endsWith("\r\n") ? -2 : -1);
    let value: unknown = text;
    if (args["json-value"]) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new HushError("invalid_request", "stdin is not valid JSON (--json-value)");
      }
    }
    const c = await workerClient(args);
    const r = await c.set(args.key, value, { ttlMs: optTtl(args.ttl) });
    if (args.json) printJson(r);
    return 0;
  },
});
