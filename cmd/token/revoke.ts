/** `hush token revoke ID`: refused from the very next handshake. @module */
import { defineCommand } from "citty";
import { adminArgs, jsonArgs, printJson } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "revoke", description: "Revoke a join token; the next handshake with it is refused." },
  args: { id: { type: "positional", required: true, description: "token id (t_…)" }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const r = await (await adminClient(args)).call("POST", `/v1/admin/tokens/${encodeURIComponent(args.id)}/revoke`);
    if (args.json) printJson(r);
    else process.stderr.write(`hush: revoked token ${r.id}\n`);
    return 0;
  },
});
