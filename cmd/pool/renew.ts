/** `hush pool renew NAME --token N [--ttl D]`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, jsonArgs, optTtl, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "renew", description: "Extend a lease you hold (exit 3 when it is not held any more)." },
  args: {
    name: { type: "positional", required: true, description: "pool name" },
    token: { type: "string", required: true, description: "token from lease", valueHint: "N" },
    ttl: { type: "string", description: "new time to live, e.g. 30s, 10m (at most 30d; default: the lease's last TTL)", valueHint: "DURATION" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/pools/${encodeURIComponent(args.name)}/renew`, {
      token: parsePositiveInt(args.token, "--token"),
      ttl_ms: optTtl(args.ttl, "store"),
    });
    if (args.json) printJson(r);
    return 0;
  },
});
