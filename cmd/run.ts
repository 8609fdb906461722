/**
 * `hush run -- CMD ARGS…`: a private daemon for one command. A fresh 0700
 * directory, a credential issued for the run, CMD started with HUSH_SOCKET
 * and HUSH_CREDENTIAL, the exit code passed through, and everything wiped
 * when CMD ends. The process is hardened like `hush serve` (not dumpable,
 * no core file, memory locked where allowed); CMD gets the caller's umask
 * and core limit back. Stop signals never kill hush run itself: before CMD
 * starts, one ends the run (nothing is started); while CMD runs, each is
 * forwarded to it and hush run waits for it to exit; after CMD has exited,
 * one only cuts the drain short. Every path ends in the wipe.
 * @module
 */
import { defineCommand } from "citty";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS, parseExpiryFlags, parsePositiveInt, type DaemonConfig } from "../src/config/index.ts";
import { expiryArgs } from "./_limits.ts";
import { startDaemon } from "../src/server/daemon.ts";
import { hardenProcess } from "../src/os/harden.ts";
import { DAEMON_ENV } from "../src/os/env.ts";
import { signalExitCode, trapStopSignals } from "../src/server/signals.ts";
import { mintCredential } from "../src/server/routes-admin.ts";
import { Logger } from "../src/observe/index.ts";
import { HushError } from "../src/errors.ts";
import { VERSION } from "./_version.ts";
import { checkCommand, runChild } from "./_child.ts";

export default defineCommand({
  meta: {
    name: "run",
    description: "Run a command with a private hush daemon, wiped when it exits.",
  },
  args: {
    name: { type: "string", description: "worker name of the run's credential (default: run)", valueHint: "NAME" },
    "max-items": { type: "string", description: "most items in the store (default 10000)", valueHint: "N" },
    ...expiryArgs,
    mlock: {
      type: "boolean",
      default: true,
      description: "lock the daemon's memory where allowed, so secrets are not swapped out (on by default; a failure is logged with --verbose only)",
      negativeDescription: "do not lock memory",
    },
    verbose: { type: "boolean", description: "log the daemon's events (issued keys, authentication failures) to stderr" },
  },
  async run({ args, data }) {
    // First: from here to exit, no stop signal takes the default action (invariant 7).
    const signals = trapStopSignals();
    const cmd: string[] = data?.passthrough ?? [];
    if (cmd.length === 0) throw new HushError("invalid_request", "nothing to run: hush run [flags] -- CMD ARGS…");
    checkCommand(cmd); // before a daemon is started for it
    // Before the daemon makes any key. The caller's umask and core limit go back to CMD (runChild).
    const hardening = hardenProcess({ mlock: args.mlock !== false, keepCoreHardLimit: true });
    const log = new Logger({ level: args.verbose ? "debug" : "warn" });
    // Without CAP_IPC_LOCK mlockall always fails: worth a note with --verbose, not a warning on every run.
    for (const w of hardening.warnings) {
      if (w.startsWith("mlockall failed")) log.debug(w);
      else log.warn(w);
    }
    const base = process.env.XDG_RUNTIME_DIR || tmpdir();
    const dir = mkdtempSync(join(base, "hush-run-"));
    let d;
    try {
      d = await startDaemon(_config(args, join(dir, "hush.sock")), { version: VERSION, log });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    let childExited = false;
    // While CMD runs, runChild forwards each signal to it; afterwards a signal only hurries the drain.
    signals.onSignal(() => childExited && d.hurry());
    try {
      // A signal during start-up: CMD is never started.
      if (signals.received) return signalExitCode(signals.received);
      const rec = d.state.registry.create({ kind: "worker", name: args.name || "run", via: "run" });
      const env = { HUSH_SOCKET: d.socketPath, HUSH_CREDENTIAL: mintCredential(d.state, rec) };
      // The child must reach this run's daemon (ours), not one named by the caller's environment (DAEMON_ENV).
      return await runChild(cmd, env, DAEMON_ENV);
    } finally {
      childExited = true;
      await d.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
});

function _config(args: Record<string, any>, socketPath: string): DaemonConfig {
  return {
    ...DEFAULTS,
    socketPath,
    // Every process of the run shares one credential, and the daemon is
    // private to this command: a per-key rate limit would only throttle the run.
    keyRate: { rate: 0, burst: 0 },
    // One credential for the whole run: its replay-cache share is the whole cache.
    nonceCachePerKey: DEFAULTS.nonceCacheMax,
    limits: {
      ...DEFAULTS.limits,
      maxItems: args["max-items"] ? parsePositiveInt(args["max-items"], "--max-items") : DEFAULTS.limits.maxItems,
      ...parseExpiryFlags(args),
      // One key, one command: no listing budget either.
      listRate: 0,
    },
  };
}
