/** `hush lock renew NAME --token N`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, jsonArgs, optTtl, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "renew", description: "Extend a lock you hold." },
  args: {
    name: { type: "positional", required: true, description: "lock name" },
    token: { type: "string", required: true, description: "fencing token from acquire", valueHint: "N" },
    ttl: { type: "string", description: "new time to live, e.g. 30s, 10m (at most 30d; default: the TTL the lock was acquired with)", valueHint: "DURATION" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/locks/${encodeURIComponent(args.name)}/renew`, {
      token: parsePositiveInt(args.token, "--token"),
      ttl_ms: optTtl(args.ttl, "store"),
    });
    if (args.json) printJson(r);
    return 0;
  },
});
