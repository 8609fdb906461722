/** `hush lock acquire NAME --ttl D [--wait D]`: prints the fencing token. @module */
import { defineCommand } from "citty";
import { credentialArgs, jsonArgs, leaseTtlArg, optTtl, optWait, printJson, waitArg } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: {
    name: "acquire",
    description: "Acquire a lock and print its fencing token (exit 4 when someone else holds it, after --wait if given).",
  },
  args: {
    name: { type: "positional", required: true, description: "lock name" },
    ...leaseTtlArg,
    ...waitArg,
    holder: { type: "string", description: "holder label (recorded with the lock)", valueHint: "NAME" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const lock = await c.lock(args.name, { ttlMs: optTtl(args.ttl, "store")!, holder: args.holder, wait: optWait(args.wait) });
    if (args.json) printJson({ token: lock.token, expires_at: lock.expiresAt });
    else process.stdout.write(`${lock.token}\n`);
    return 0;
  },
});
