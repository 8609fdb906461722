/** `hush workers revoke ID`: refused from the very next request. @module */
import { defineCommand } from "citty";
import { jsonArgs, printJson, adminArgs } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "revoke", description: "Revoke a worker key; its next request is refused." },
  args: { id: { type: "positional", description: "worker key id (w_…)", required: true }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const r = await (await adminClient(args)).call("POST", `/v1/admin/workers/${encodeURIComponent(args.id)}/revoke`);
    if (args.json) printJson(r);
    else process.stderr.write(`hush: revoked ${r.id} (${r.name})\n`);
    return 0;
  },
});
