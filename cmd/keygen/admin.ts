/** `hush keygen admin`: a HUSH-ADMIN-1… credential for remote administration. @module */
import { defineCommand } from "citty";
import { formatKeyFile } from "../../src/keys/index.ts";
import { AdminClient } from "../../src/client/index.ts";
import { outAddresses, refuseUrlOnAdminSocket, resolveTarget } from "../_target.ts";
import { addressesArgs, hint, jsonArgs, optTtl, printJson, socketArgs, socketOwner, withSecretFile } from "../_shared.ts";

export default defineCommand({
  meta: { name: "admin", description: "Issue an admin credential (via the admin socket) for signed admin requests." },
  args: {
    name: { type: "string", description: "name of the admin key (default: admin)", valueHint: "NAME" },
    ttl: { type: "string", description: "lifetime (default 24h, at least 1m, at most 30d)", valueHint: "DURATION" },
    out: { type: "string", description: "write the credential to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...addressesArgs,
    ...socketArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const addresses = outAddresses(args);
    const body = { name: args.name || "admin", ttl_ms: optTtl(args.ttl, "key") };
    const target = resolveTarget(args, "admin");
    // Admin credentials are minted on admin.sock only: a URL cannot be followed, with or without a credential.
    refuseUrlOnAdminSocket(target, true);
    const admin = new AdminClient({ socket: (target as { socket: string }).socket, socketOwner: socketOwner(args) });
    const [r, file] = await withSecretFile(args.out, () => admin.call("POST", "/v1/admin/admins", body));
    const { credential, ...info } = r;
    if (file) file.write(formatKeyFile(credential, { kind: "admin credential", addresses, note: `id: ${info.id}` }));
    else if (process.stdout.isTTY) hint("printing a secret to a terminal; prefer --out FILE", "warning");
    // --json: one object on stdout, the credential in it unless it went to --out (like workers issue).
    if (args.json) printJson(file ? info : r);
    else if (!file) process.stdout.write(credential + "\n");
    if (!args.json) process.stderr.write(`hush: admin key ${info.id} (${info.name}), expires ${new Date(info.expires_at).toISOString()}\n`);
    return 0;
  },
});
