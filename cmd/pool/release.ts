/** `hush pool release NAME --token N`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, hint, jsonArgs, printJson } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "release", description: "Give a leased slot back (exit 0 also when it was not held any more: released already or expired)." },
  args: {
    name: { type: "positional", required: true, description: "pool name" },
    token: { type: "string", required: true, description: "token from lease", valueHint: "N" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const r = await c.call("POST", `/v1/pools/${encodeURIComponent(args.name)}/release`, { token: parsePositiveInt(args.token, "--token") });
    if (args.json) printJson(r);
    else if (!r.released) hint("nothing to release: no live lease of this pool has this token (released already, or expired)");
    return 0;
  },
});
