/** `hush workers revoke ID`: refused from the very next request. @module */
import { defineCommand } from "citty";
import { AdminClient } from "../../src/client/index.ts";
import { jsonArgs, printJson, socketArgs } from "../_shared.ts";

export default defineCommand({
  meta: { name: "revoke", description: "Revoke a worker key; its next request is refused." },
  args: { id: { type: "positional", description: "worker key id (w_…)", required: true }, ...socketArgs, ...jsonArgs },
  async run({ args }) {
    const r = await new AdminClient({ socket: args.socket }).call("POST", `/v1/admin/workers/${encodeURIComponent(args.id)}/revoke`);
    if (args.json) printJson(r);
    else process.stderr.write(`hush: revoked ${r.id} (${r.name})\n`);
    return 0;
  },
});
