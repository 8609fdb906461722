/**
 * `hush checkout NAME [-- CMD…]`: check a credential out (sealed to this
 * worker) and hand it to a command in an environment variable, or print it
 * only where it is not shown on a terminal.
 * @module
 */
import { defineCommand } from "citty";
import { HushError } from "../src/errors.ts";
import { credentialArgs, jsonArgs, optTtl, printJson } from "./_shared.ts";
import { checkCommand, isUnsafeEnvName, runChild } from "./_child.ts";
import { workerClient } from "./_target.ts";

/** `db/password` → `DB_PASSWORD`. */
export function envNameFor(name: string): string {
  const n = name.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  return /^[A-Z_]/.test(n) ? n : "_" + n;
}

export default defineCommand({
  meta: { name: "checkout", description: "Check out a credential and run a command with it in its environment." },
  args: {
    name: { type: "positional", required: true, description: "credential name" },
    env: { type: "string", description: "environment variable for the value (default: derived from NAME, e.g. db/password → DB_PASSWORD)", valueHint: "VAR" },
    ttl: { type: "string", description: "lease length (default 15m, at least 1s, at most 24h)", valueHint: "DURATION" },
    reveal: { type: "boolean", description: "print the value even when stdout is a terminal" },
    ...credentialArgs,
    ...jsonArgs,
  },
  async run({ args, data }) {
    const cmd: string[] = data?.passthrough ?? [];
    const env = args.env ?? envNameFor(args.name);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) throw new HushError("invalid_request", `--env ${JSON.stringify(env)} is not a valid variable name`);
    if (isUnsafeEnvName(env)) {
      throw new HushError("invalid_request", `refusing to put the value in ${env}${args.env ? "" : ` (the variable named after ${args.name})`}: it changes which program runs or how it starts`, {
        hint: `name another variable with --env, e.g. --env ${env.replace(/^_+/, "")}_VALUE`,
      });
    }
    // Before the checkout: a lease is not spent on a command that cannot run.
    if (cmd.length > 0) checkCommand(cmd);
    if (cmd.length === 0 && process.stdout.isTTY && !args.reveal) {
      throw new HushError("invalid_request", "refusing to print a secret to a terminal: run a command with -- CMD, pipe the output, or pass --reveal");
    }
    const c = await workerClient(args);
    const co = await c.checkout(args.name, { ttlMs: optTtl(args.ttl, "lease") });
    try {
      if (cmd.length > 0) return await runChild(cmd, { [env]: co.value });
      if (args.json) printJson({ name: co.name, value: co.value, version: co.version, lease_id: co.leaseId, expires_at: co.expiresAt });
      else process.stdout.write(co.value + "\n");
      return 0;
    } finally {
      // Exclusive values go back to the pool as soon as the command is done.
      if (co.mode === "exclusive" && cmd.length > 0) await co.return().catch(() => {});
    }
  },
});
