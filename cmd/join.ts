/**
 * `hush join`: prove knowledge of a join token in a Noise NKpsk0 handshake
 * and receive this worker's own keys. The token comes from a file or the
 * environment, never argv.
 * @module
 */
import { defineCommand } from "citty";
import { hostname } from "node:os";
import { HushError } from "../src/errors.ts";
import { decodeJoinToken, formatKeyFile, keyFileAddresses, parseKeyFile } from "../src/keys/index.ts";
import { joinWithToken, pickTransport } from "../src/client/index.ts";
import { hint, jsonArgs, printJson, socketArgs, urlArgs, withSecretFile } from "./_shared.ts";
import { checkCommand, runChild } from "./_child.ts";
import { readJoinToken } from "./_credentials.ts";
import { checkUrl, resolveTarget, transportOptions } from "./_target.ts";

function defaultName(): string {
  const n = hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
  return n || "worker";
}

export default defineCommand({
  meta: { name: "join", description: "Join with a token and get this worker's credential (to a file, stdout, or a command's environment)." },
  args: {
    ...socketArgs,
    ...urlArgs,
    "token-file": { type: "string", description: "file holding the HUSH-JOIN-1… token; /dev/stdin to pipe it in (default: $HUSH_JOIN_TOKEN, readable by your other processes while hush starts)", valueHint: "FILE" },
    name: { type: "string", description: "this worker's name (default: the host name)", valueHint: "NAME" },
    out: { type: "string", description: "write the credential to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...jsonArgs,
  },
  async run({ args, data }) {
    const cmd: string[] = data?.passthrough ?? [];
    // Before the token's use is spent on a command that cannot run.
    if (cmd.length > 0) checkCommand(cmd);
    const token = readJoinToken(args["token-file"]);
    if (!token.trim()) throw new HushError("invalid_request", "no join token: pass --token-file FILE or set HUSH_JOIN_TOKEN");
    const target = resolveTarget(args, "worker", { text: token, from: args["token-file"] ? `--token-file ${args["token-file"]}` : "$HUSH_JOIN_TOKEN" });
    const opts = transportOptions(target, args);
    // The token's daemon addresses go on into the credential file, for the commands that use it.
    const addresses = keyFileAddresses(token);
    // One request: HTTP (a WebSocket would add an upgrade round trip and gain nothing).
    const transport = pickTransport({ ...opts, transport: "http" }, decodeJoinToken(parseKeyFile(token)).tlsPin);
    let r, file;
    try {
      [r, file] = await withSecretFile(args.out, () => joinWithToken(transport, token, args.name || defaultName()));
    } catch (e) {
      if (e instanceof HushError && e.code === "auth_failed" && !e.detail.pinMismatch && !e.detail.untrustedSocket) {
        throw new HushError("auth_failed", "join refused: the token is unknown, expired, used up or revoked, or was made by another server", e.detail);
      }
      throw e;
    }
    const summary = `hush: joined as ${r.id}, tags [${r.tags.join(",")}], key expires ${new Date(r.expiresAt).toISOString()}`;
    if (file) {
      file.write(formatKeyFile(r.credential, { kind: "worker credential", addresses: addresses && checkUrl(addresses, "the token's # addresses line"), note: `id: ${r.id}` }));
      // Like `workers issue --json --out`: the metadata on stdout (unless stdout is the command's).
      if (args.json && cmd.length === 0) printJson({ id: r.id, tags: r.tags, expires_at: r.expiresAt });
      else process.stderr.write(`${summary}; credential written to ${args.out}\n`);
    }
    if (cmd.length > 0) {
      if (!args.out) process.stderr.write(summary + "\n");
      // The command reaches the daemon this join used, not one its environment names.
      const where: Record<string, string> = opts.url ? { HUSH_URL: opts.url } : { HUSH_SOCKET: opts.socket!, ...(opts.socketOwner ? { HUSH_SOCKET_OWNER: opts.socketOwner } : {}) };
      return await runChild(cmd, { ...where, HUSH_CREDENTIAL: r.credential }, opts.url ? ["HUSH_SOCKET"] : ["HUSH_URL"]);
    }
    if (!args.out) {
      if (process.stdout.isTTY) hint("the credential is a secret; prefer --out FILE or -- CMD", "warning");
      if (args.json) printJson({ id: r.id, tags: r.tags, expires_at: r.expiresAt, credential: r.credential });
      else process.stdout.write(r.credential + "\n");
      process.stderr.write(summary + "\n");
    }
    return 0;
  },
});
