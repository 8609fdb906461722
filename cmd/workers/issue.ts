/** `hush workers issue`: mint a worker credential. @module */
import { defineCommand } from "citty";
import { formatKeyFile } from "../../src/keys/index.ts";
import { parseList } from "../../src/config/index.ts";
import { addressesArgs, hint, jsonArgs, optTtl, printJson, adminArgs, withSecretFile } from "../_shared.ts";
import { adminClient, outAddresses } from "../_target.ts";

export default defineCommand({
  meta: {
    name: "issue",
    description: "Issue a worker credential (HUSH-WORKER-1\u2026). It is shown once.",
  },
  args: {
    ...adminArgs,
    ...jsonArgs,
    name: { type: "string", description: "worker name (1–64 of A-Z a-z 0-9 . _ -)", required: true, valueHint: "NAME" },
    tags: { type: "string", description: "comma-separated tags for policy", valueHint: "a,b" },
    ttl: { type: "string", description: "lifetime of the key (default 24h, at least 1m, at most 30d)", valueHint: "DURATION" },
    out: { type: "string", description: "write the credential to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...addressesArgs,
  },
  async run({ args }) {
    const addresses = outAddresses(args);
    const body = {
      name: args.name,
      tags: args.tags === undefined ? undefined : parseList(args.tags, "--tags"),
      ttl_ms: optTtl(args.ttl, "key"),
    };
    const admin = await adminClient(args);
    const [r, file] = await withSecretFile(args.out, () => admin.call("POST", "/v1/admin/workers", body));
    const { credential, ...info } = r;
    if (file) {
      file.write(formatKeyFile(credential, { kind: "worker credential", addresses, note: `id: ${info.id} name: ${info.name}` }));
      if (args.json) printJson(info);
      else process.stderr.write(`hush: issued ${info.id} (${info.name}), expires ${new Date(info.expires_at).toISOString()}; credential written to ${args.out}\n`);
    } else {
      if (process.stdout.isTTY) hint("the credential is a secret; prefer --out FILE over printing it to a terminal", "warning");
      if (args.json) printJson(r);
      else process.stdout.write(credential + "\n");
      process.stderr.write(`hush: issued ${info.id} (${info.name}), expires ${new Date(info.expires_at).toISOString()}\n`);
    }
    return 0;
  },
});
