/** `hush creds delete NAME`. @module */
import { defineCommand } from "citty";
import { adminArgs, jsonArgs, printJson } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "delete", description: "Delete a credential; its values are wiped and its leases end." },
  args: { name: { type: "positional", required: true, description: "credential name" }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const r = await (await adminClient(args)).call("DELETE", `/v1/admin/creds/${encodeURIComponent(args.name)}`);
    if (args.json) printJson(r);
    else process.stderr.write(`hush: deleted ${r.name}\n`);
    return 0;
  },
});
