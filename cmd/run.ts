/**
 * `hush run -- CMD ARGS…`: a private daemon for one command. A fresh 0700
 * directory, a credential issued for the run, CMD started with HUSH_SOCKET
 * and HUSH_CREDENTIAL, signals forwarded, the exit code passed through, and
 * everything wiped when CMD ends.
 * @module
 */
import { defineCommand } from "citty";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS, parsePositiveInt } from "../src/config/index.ts";
import { startDaemon } from "../src/server/daemon.ts";
import { mintCredential } from "../src/server/routes-admin.ts";
import { Logger } from "../src/observe/index.ts";
import { HushError } from "../src/errors.ts";
import { VERSION } from "./_version.ts";
import { runChild } from "./_shared.ts";


export default defineCommand({
  meta: {
    name: "run",
    description: "Run a command with a private hush daemon, wiped when it exits.",
  },
  args: {
    name: { type: "string", description: "worker name of the run's credential (default: run)", valueHint: "NAME" },
    "max-items": { type: "string", description: "most items in the store (default 10000)", valueHint: "N" },
    "ttl-required": { type: "boolean", default: true, description: "every key must have a TTL (on by default)", negativeDescription: "allow keys without a TTL" },
    verbose: { type: "boolean", description: "log the daemon's events (issued keys, authentication failures) to stderr" },
  },
  async run({ args, data }) {
    const cmd: string[] = data?.passthrough ?? [];
    if (cmd.length === 0) throw new HushError("invalid_request", "nothing to run: hush run [flags] -- CMD ARGS…");
    const base = process.env.XDG_RUNTIME_DIR || tmpdir();
    const dir = mkdtempSync(join(base, "hush-run-"));
    const log = new Logger({ level: args.verbose ? "debug" : "warn" });
    const d = await startDaemon(
      {
        ...DEFAULTS,
        socketPath: join(dir, "hush.sock"),
        // Every process of the run shares one credential, and the daemon is
        // private to this command: a per-key rate limit would only throttle the run.
        keyRate: { rate: 0, burst: 0 },
        limits: {
          ...DEFAULTS.limits,
          maxItems: args["max-items"] ? parsePositiveInt(args["max-items"], "--max-items") : DEFAULTS.limits.maxItems,
          ttlRequired: args["ttl-required"] !== false,
        },
      },
      { version: VERSION, log },
    );
    const st = d.state;
    const rec = st.registry.create({ kind: "worker", name: args.name || "run", via: "run" });
    const credential = mintCredential(st, rec);

    try {
      // The child must reach this run's daemon (ours), not one named by the caller's environment.
      return await runChild(cmd, { HUSH_SOCKET: d.socketPath, HUSH_CREDENTIAL: credential }, ["HUSH_SOCKET_OWNER", "HUSH_URL", "HUSH_TLS_PIN"]);
    } finally {
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
});
