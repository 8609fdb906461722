/** `hush rotate token ID`: a replacement with the same settings; the old one is revoked. @module */
import { defineCommand } from "citty";
import { adminArgs, adminClient, jsonArgs } from "../_shared.ts";
import { emitToken } from "../token/create.ts";

export default defineCommand({
  meta: { name: "token", description: "Replace a (leaked) join token: same settings, new secret, old token refused at once." },
  args: {
    id: { type: "positional", required: true, description: "token id (t_…)" },
    out: { type: "string", description: "write the new token to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const r = await (await adminClient(args)).call("POST", `/v1/admin/tokens/${encodeURIComponent(args.id)}/rotate`);
    emitToken(r, args.out, args.json);
    if (!args.json) process.stderr.write(`hush: ${r.replaces} is revoked\n`);
    return 0;
  },
});
