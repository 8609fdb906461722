/**
 * `hush serve`: run the daemon on an owner-only unix socket until SIGINT or
 * SIGTERM, then drain, wipe and unlink.
 * @module
 */
import { defineCommand } from "citty";
import { DEFAULTS, defaultSocketPath, parseDuration, parsePositiveInt, parseSize, parseSocketMode, type DaemonConfig } from "../src/config/index.ts";
import { startDaemon } from "../src/server/daemon.ts";
import { socketArgs } from "./_shared.ts";
import { VERSION } from "./_version.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description: "Run the hush daemon in the foreground.",
  },
  args: {
    ...socketArgs,
    "socket-mode": { type: "string", description: "mode of hush.sock: 0600 (default) or 0660 with --socket-group", valueHint: "MODE" },
    "socket-group": { type: "string", description: "group allowed to connect to hush.sock (admin.sock stays owner-only)", valueHint: "GROUP" },
    "max-items": { type: "string", description: "most items in the store (default 10000)", valueHint: "N" },
    "max-value": { type: "string", description: "largest value, e.g. 256k (default 256 KiB)", valueHint: "SIZE" },
    "max-body": { type: "string", description: "largest request body, e.g. 1m (default 1 MiB)", valueHint: "SIZE" },
    "no-ttl-required": { type: "boolean", description: "allow keys without a TTL (off by default: every key must expire)" },
    "clock-window": { type: "string", description: "accepted clock skew of signed requests (default 60s)", valueHint: "DURATION" },
    "log-level": { type: "string", description: "debug, info (default), warn or error", valueHint: "LEVEL" },
  },
  async run({ args }) {
    const config: DaemonConfig = {
      ...DEFAULTS,
      socketPath: args.socket || defaultSocketPath(),
      socketMode: args["socket-mode"] ? parseSocketMode(args["socket-mode"]) : DEFAULTS.socketMode,
      socketGroup: args["socket-group"] || undefined,
      limits: {
        ...DEFAULTS.limits,
        maxItems: args["max-items"] ? parsePositiveInt(args["max-items"], "--max-items") : DEFAULTS.limits.maxItems,
        maxValueBytes: args["max-value"] ? parseSize(args["max-value"], "--max-value") : DEFAULTS.limits.maxValueBytes,
        maxBodyBytes: args["max-body"] ? parseSize(args["max-body"], "--max-body") : DEFAULTS.limits.maxBodyBytes,
        ttlRequired: !args["no-ttl-required"],
      },
      clockWindowMs: args["clock-window"] ? parseDuration(args["clock-window"], "--clock-window") : DEFAULTS.clockWindowMs,
      logLevel: (args["log-level"] as DaemonConfig["logLevel"]) || DEFAULTS.logLevel,
    };
    if (config.socketMode !== 0o600 && !config.socketGroup) {
      throw new Error("--socket-mode 0660 needs --socket-group GROUP");
    }
    if (!["debug", "info", "warn", "error"].includes(config.logLevel)) throw new Error("--log-level must be debug, info, warn or error");
    const d = await startDaemon(config, { version: VERSION });
    const log = d.state.log;
    log.info("listening", { socket: d.socketPath, admin_socket: d.adminSocketPath, version: VERSION, pid: process.pid });
    log.info("server key is ephemeral (made for this run)", {});
    process.stderr.write(
      `hush: ready. Issue a worker credential and connect:\n` +
        `  export HUSH_SOCKET=${d.socketPath}\n` +
        `  hush workers issue --name my-worker --out worker.cred\n` +
        `  HUSH_CREDENTIAL=$(cat worker.cred) hush kv list\n`,
    );
    await new Promise<void>((resolve) => {
      const onSignal = (sig: string) => {
        log.info("shutting down", { signal: sig });
        d.stop().then(resolve);
      };
      process.once("SIGINT", () => onSignal("SIGINT"));
      process.once("SIGTERM", () => onSignal("SIGTERM"));
    });
    log.info("stopped; store wiped, sockets removed");
    return 0;
  },
});
