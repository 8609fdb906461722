/**
 * `hush join`: prove knowledge of a join token in a Noise NKpsk0 handshake
 * and receive this worker's own keys. The token comes from a file or the
 * environment, never argv.
 * @module
 */
import { defineCommand } from "citty";
import { hostname } from "node:os";
import { HushError } from "../src/errors.ts";
import { decodeJoinToken, formatKeyFile, parseKeyFile } from "../src/keys/index.ts";
import { joinWithToken, pickTransport } from "../src/client/index.ts";
import { defaultSocketPath } from "../src/config/index.ts";
import { hint, jsonArgs, printJson, runChild, secretFromEnv, socketArgs, socketOwner, readSecretFile, urlArgs, withSecretFile } from "./_shared.ts";

function defaultName(): string {
  const n = hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
  return n || "worker";
}

export default defineCommand({
  meta: { name: "join", description: "Join with a token and get this worker's credential (to a file, stdout, or a command's environment)." },
  args: {
    ...socketArgs,
    ...urlArgs,
    "token-file": { type: "string", description: "file holding the HUSH-JOIN-1… token (default: $HUSH_JOIN_TOKEN)", valueHint: "FILE" },
    name: { type: "string", description: "this worker's name (default: the host name)", valueHint: "NAME" },
    out: { type: "string", description: "write the credential to FILE (created 0600, never overwritten)", valueHint: "FILE" },
    ...jsonArgs,
  },
  async run({ args, data }) {
    const envToken = process.env.HUSH_JOIN_TOKEN;
    let token = envToken && !args["token-file"] ? secretFromEnv("HUSH_JOIN_TOKEN", envToken, "HUSH-JOIN-", "--token-file") : "";
    if (args["token-file"]) token = readSecretFile(args["token-file"], "--token-file", "they could have chosen the token you join with");
    if (!token.trim()) throw new HushError("invalid_request", "no join token: pass --token-file FILE or set HUSH_JOIN_TOKEN");
    const socket = args.socket || defaultSocketPath();
    const url = args.url || process.env.HUSH_URL;
    const owner = socketOwner(args);
    // One request: HTTP (a WebSocket would add an upgrade round trip and gain nothing).
    const transport = pickTransport({ socket, socketOwner: owner, url, tlsPin: args["tls-pin"] || undefined, transport: "http" }, decodeJoinToken(parseKeyFile(token)).tlsPin);
    let r, file;
    try {
      [r, file] = await withSecretFile(args.out, () => joinWithToken(transport, token, args.name || defaultName()));
    } catch (e) {
      if (e instanceof HushError && e.code === "auth_failed" && !e.detail.pinMismatch && !e.detail.untrustedSocket) {
        throw new HushError("auth_failed", "join refused: the token is unknown, expired, used up or revoked, or was made by another server", e.detail);
      }
      throw e;
    }
    const cmd: string[] = data?.passthrough ?? [];
    const summary = `hush: joined as ${r.id}, tags [${r.tags.join(",")}], key expires ${new Date(r.expiresAt).toISOString()}`;
    if (file) {
      file.write(formatKeyFile(r.credential, { kind: "worker credential", note: `id: ${r.id}` }));
      process.stderr.write(`${summary}; credential written to ${args.out}\n`);
    }
    if (cmd.length > 0) {
      if (!args.out) process.stderr.write(summary + "\n");
      const where: Record<string, string> = url ? { HUSH_URL: url } : { HUSH_SOCKET: socket, ...(owner ? { HUSH_SOCKET_OWNER: owner } : {}) };
      return await runChild(cmd, { ...where, HUSH_CREDENTIAL: r.credential });
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
