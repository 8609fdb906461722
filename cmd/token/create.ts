/** `hush token create`: mint a HUSH-JOIN-1… token, shown once. @module */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { formatKeyFile } from "../../src/keys/index.ts";
import { parseList, parsePositiveInt } from "../../src/config/index.ts";
import { addressesArgs, adminArgs, hint, jsonArgs, optTtl, printJson, withSecretFile, type SecretFile } from "../_shared.ts";
import { adminClient, outAddresses } from "../_target.ts";

/** Shared by `token create` and `rotate token`: print or write a fresh token. */
export function emitToken(r: any, out: SecretFile | undefined, json: boolean | undefined, addresses?: string): void {
  const { token, ...info } = r;
  const uses = info.uses_left === null ? "unlimited uses" : `${info.uses_left} use${info.uses_left === 1 ? "" : "s"}`;
  const summary = `hush: token ${info.id}: ${uses}, expires ${new Date(info.expires_at).toISOString()}, tags [${info.tags.join(",")}], server ${info.server_key}`;
  if (out) {
    out.write(formatKeyFile(token, { kind: "join token", publicKey: info.server_key, addresses, note: `id: ${info.id}` }));
    if (json) printJson(info);
    else process.stderr.write(`${summary}\nhush: written to ${out.path}\n`);
    return;
  }
  if (process.stdout.isTTY) hint("the token is a secret shown only once; prefer --out FILE", "warning");
  if (json) printJson(r);
  else process.stdout.write(token + "\n");
  process.stderr.write(summary + "\n");
}

export default defineCommand({
  meta: { name: "create", description: "Create a join token (one use, one hour by default)." },
  args: {
    ttl: { type: "string", description: "how long the token can be used (default 1h, at least 1m, at most 30d)", valueHint: "DURATION" },
    uses: { type: "string", description: "number of joins, or `unlimited` (default 1)", valueHint: "N" },
    tags: { type: "string", description: "comma-separated tags given to every worker that joins with it", valueHint: "a,b" },
    "worker-ttl": { type: "string", description: "lifetime of each joined worker's key (default 24h, at least 1m, at most 30d)", valueHint: "DURATION" },
    out: { type: "string", description: "write the token to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...addressesArgs,
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const addresses = outAddresses(args);
    let uses: number | "unlimited" = 1;
    if (args.uses !== undefined) uses = args.uses === "unlimited" ? "unlimited" : parsePositiveInt(args.uses, "--uses");
    if (uses !== 1) hint(`this token can be used ${uses === "unlimited" ? "any number of" : uses} times; anyone who holds it can join until it expires or is revoked`, "warning");
    const body = {
      ttl_ms: optTtl(args.ttl, "token"),
      uses,
      tags: args.tags === undefined ? undefined : parseList(args.tags, "--tags"),
      worker_ttl_ms: optTtl(args["worker-ttl"], "key", "--worker-ttl"),
    };
    const admin = await adminClient(args);
    const [r, file] = await withSecretFile(args.out, () => admin.call("POST", "/v1/admin/tokens", body));
    if (!r.token) throw new HushError("internal", "the daemon returned no token");
    emitToken(r, file, args.json, addresses);
    return 0;
  },
});
