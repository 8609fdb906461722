/** `hush rotate token ID`: a replacement with the same settings; the old one is revoked. @module */
import { defineCommand } from "citty";
import { addressesArgs, adminArgs, jsonArgs, withSecretFile } from "../_shared.ts";
import { adminClient, outAddresses } from "../_target.ts";
import { emitToken } from "../token/create.ts";

export default defineCommand({
  meta: { name: "token", description: "Replace a (leaked) join token: same settings, new secret, old token refused at once." },
  args: {
    id: { type: "positional", required: true, description: "token id (t_…)" },
    out: { type: "string", description: "write the new token to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...addressesArgs,
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const addresses = outAddresses(args);
    const admin = await adminClient(args);
    const [r, file] = await withSecretFile(args.out, () => admin.call("POST", `/v1/admin/tokens/${encodeURIComponent(args.id)}/rotate`));
    emitToken(r, file, args.json, addresses);
    if (!args.json) process.stderr.write(`hush: ${r.replaces} is revoked\n`);
    return 0;
  },
});
