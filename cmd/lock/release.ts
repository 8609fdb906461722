/** `hush lock release NAME --token N`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, hint, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "release", description: "Release a lock you hold (exit 0 also when it was not held any more: released already or expired)." },
  args: {
    name: { type: "positional", required: true, description: "lock name" },
    token: { type: "string", required: true, description: "fencing token from acquire", valueHint: "N" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/locks/${encodeURIComponent(args.name)}/release`, { token: parsePositiveInt(args.token, "--token") });
    if (args.json) printJson(r);
    else if (!r.released) hint("nothing to release: this token does not hold the lock (released already, or expired)");
    return 0;
  },
});
