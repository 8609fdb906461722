/** `hush pool lease NAME --size N --ttl D [--wait D]`. @module */
import { defineCommand } from "citty";
import { parsePositiveInt } from "../../src/config/index.ts";
import { credentialArgs, jsonArgs, leaseTtlArg, optTtl, optWait, printJson, waitArg } from "../_shared.ts";
import { workerClient } from "../_target.ts";

export default defineCommand({
  meta: {
    name: "lease",
    description: "Lease the smallest free slot and print `SLOT TOKEN` (exit 4 when all are taken, after --wait if given).",
  },
  args: {
    name: { type: "positional", required: true, description: "pool name" },
    size: { type: "string", required: true, description: "number of slots, 1 to 65536; fixed while the pool has live leases", valueHint: "N" },
    ...leaseTtlArg,
    ...waitArg,
    holder: { type: "string", description: "holder name: the same holder (same credential) gets the same slot back", valueHint: "NAME" },
    "one-per-holder": {
      type: "boolean",
      description: "a new pool keeps one slot per holder name, whoever asks (needs --holder; fixed while the pool has leases)",
    },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const c = await workerClient(args);
    const lease = await c.lease(args.name, {
      size: parsePositiveInt(args.size, "--size"),
      ttlMs: optTtl(args.ttl, "store")!,
      holder: args.holder,
      onePerHolder: args["one-per-holder"],
      wait: optWait(args.wait),
    });
    if (args.json) printJson({ slot: lease.slot, token: lease.token, expires_at: lease.expiresAt });
    else process.stdout.write(`${lease.slot} ${lease.token}\n`);
    return 0;
  },
});
