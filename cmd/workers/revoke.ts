/**
 * `hush workers revoke ID`: refused from the very next request. Revoking a
 * revoked key again changes nothing and says so (exit 0). @module
 */
import { defineCommand } from "citty";
import { jsonArgs, printJson, adminArgs } from "../_shared.ts";
import { adminClient } from "../_target.ts";

export default defineCommand({
  meta: { name: "revoke", description: "Revoke a worker key; its next request is refused." },
  args: { id: { type: "positional", description: "worker key id (w_…)", required: true }, ...adminArgs, ...jsonArgs },
  async run({ args }) {
    const c = await adminClient(args);
    // Admin keys are not listed: they are revoked (or found revoked) by the call alone.
    const { workers } = await c.call<{ workers: { id: string; revoked_at: number | null }[] }>("GET", "/v1/admin/workers");
    const before = workers.find((w) => w.id === args.id);
    const r = await c.call("POST", `/v1/admin/workers/${encodeURIComponent(args.id)}/revoke`);
    if (args.json) printJson(r);
    else if (before?.revoked_at != null) process.stderr.write(`hush: ${r.id} (${r.name}) was already revoked\n`);
    else process.stderr.write(`hush: revoked ${r.id} (${r.name})\n`);
    return 0;
  },
});
