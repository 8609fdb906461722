#!/usr/bin/env node
/**
 * The `hush` command of the npm package: finds the compiled binary (see
 * binary.ts) and runs it with the same arguments, standard streams and exit
 * status. It needs no install script. When the binary is missing it prints
 * which package is missing and how to get it, and exits 1.
 *
 * Signals follow system(3): SIGTERM and SIGHUP sent to the launcher are
 * passed on. SIGINT and SIGQUIT are passed on only when stdin is not a
 * terminal; from a terminal, Ctrl-C already reaches the whole foreground
 * process group (hush too), and a second copy would cut hush's graceful stop
 * short. When hush dies of a signal, the launcher dies of the same one.
 * @module
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { isHushError } from "../errors.ts";
import { findBinary } from "./binary.ts";

function fail(message: string, hint?: unknown): never {
  process.stderr.write(`hush: error: ${message}\n${typeof hint === "string" ? `hush: hint: ${hint}\n` : ""}`);
  process.exit(1);
}

let bin: string;
try {
  bin = findBinary();
} catch (e) {
  if (isHushError(e)) fail(e.message, e.detail.hint);
  throw e;
}

const child = spawn(bin, process.argv.slice(2), { stdio: "inherit" });
const forwarded: NodeJS.Signals[] = process.stdin.isTTY ? ["SIGTERM", "SIGHUP"] : ["SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT"];
const ignored: NodeJS.Signals[] = process.stdin.isTTY ? ["SIGINT", "SIGQUIT"] : [];
const handlers = new Map<NodeJS.Signals, () => void>();
if (process.platform !== "win32") {
  for (const s of forwarded) handlers.set(s, () => child.kill(s));
  for (const s of ignored) handlers.set(s, () => {});
  for (const [s, h] of handlers) process.on(s, h);
}

child.on("error", (e: NodeJS.ErrnoException) => fail(`cannot start ${bin}: ${e.code ?? e.message}`));
child.on("exit", (code, signal) => {
  for (const [s, h] of handlers) process.off(s, h);
  if (!signal) process.exit(code ?? 1);
  process.exitCode = 128 + (constants.signals[signal] ?? 0); // if the signal does not end this process
  process.kill(process.pid, signal);
});
