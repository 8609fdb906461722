/**
 * `startDaemon()`: a private hush daemon for a test run, started from code
 * (a test runner's global setup) instead of wrapping the command in
 * `hush run -- …`. It *is* `hush run`: the installed binary runs
 * `hush run -- <this Node> -e <keeper>`, where the keeper hands the socket
 * path and the run's credential back over a pipe (never argv, never a file)
 * and then waits for its stdin to close. So the daemon, its directory and
 * its store are wiped when `stop()` closes that pipe — and also when this
 * process dies without calling it, because the OS closes the pipe then.
 *
 *   const hush = await startDaemon();      // { socket, credential, env, stop }
 *   spawn("node", ["worker.js"], { env: { ...process.env, ...hush.env } });
 *   await hush.stop();
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { HushError } from "../errors.ts";
import { findBinary } from "./binary.ts";

export interface StartDaemonOptions {
  /** Worker name of the run's credential (`hush run --name`). Default "run". */
  name?: string;
  /** Most items in the store (`--max-items`). Default: the daemon's (10000). */
  maxItems?: number;
  /** Every key must have a TTL (`--ttl-required`). Default true. */
  ttlRequired?: boolean;
  /** Log the daemon's events to this process's stderr (`--verbose`). Default false. */
  verbose?: boolean;
  /** Path of the hush binary. Default: the installed one (`findBinary()`). */
  binary?: string;
  /** How long to wait for the daemon, in ms. Default 15000. */
  timeoutMs?: number;
}

export interface HushDaemon {
  /** Path of the worker socket (hush.sock). */
  readonly socket: string;
  /** The run's worker credential (`HUSH-WORKER-1…`): a secret. */
  readonly credential: string;
  /** `{ HUSH_SOCKET, HUSH_CREDENTIAL }`, for `Client.fromEnv()` in child processes. */
  readonly env: { HUSH_SOCKET: string; HUSH_CREDENTIAL: string };
  /** Process id of `hush run`. */
  readonly pid: number;
  /** Stop the daemon and wipe its store; resolves when `hush run` has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Runs inside `hush run`: report the socket and credential on stdout, then live until stdin closes. */
const KEEPER =
  "const e=process.env;process.stdout.write(JSON.stringify({socket:e.HUSH_SOCKET,credential:e.HUSH_CREDENTIAL})+'\\n');" +
  "process.stdin.on('data',()=>{});process.stdin.on('end',()=>process.exit(0));process.stdin.on('error',()=>process.exit(0));";

function runArgs(o: StartDaemonOptions): string[] {
  const a = ["run"];
  if (o.name !== undefined) a.push("--name", o.name);
  if (o.maxItems !== undefined) a.push("--max-items", String(o.maxItems));
  if (o.ttlRequired === false) a.push("--no-ttl-required");
  if (o.verbose) a.push("--verbose");
  return [...a, "--", process.execPath, "-e", KEEPER];
}

/**
 * Start a private daemon (`hush run`) and return its socket and credential.
 * Throws HushError `unavailable` when the binary is missing (the message
 * names the npm package) or the daemon does not come up within `timeoutMs`.
 */
export async function startDaemon(opts: StartDaemonOptions = {}): Promise<HushDaemon> {
  const binary = opts.binary ?? findBinary();
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const child = spawn(binary, runArgs(opts), { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const ready = await readReady(child, timeoutMs, () => stderr).catch((e) => {
    child.kill("SIGKILL");
    throw e;
  });
  // From here on the daemon's own messages go to our stderr, and this handle
  // does not keep the process alive: if it exits without stop(), the pipe
  // closes and the daemon wipes itself.
  child.stderr!.removeAllListeners("data").on("data", (d: string) => process.stderr.write(d));
  child.stdout!.resume();
  setRef(child, false);
  const exited = new Promise<number | null>((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once("exit", (c) => r(c))));
  let stopping: Promise<void> | undefined;
  return {
    socket: ready.socket,
    credential: ready.credential,
    env: { HUSH_SOCKET: ready.socket, HUSH_CREDENTIAL: ready.credential },
    pid: child.pid!,
    stop: () =>
      (stopping ??= (async () => {
        setRef(child, true);
        child.stdin!.end();
        const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
        const code = await exited;
        clearTimeout(timer);
        if (code !== 0) throw new HushError("internal", `hush run ended with ${code === null ? `signal ${child.signalCode}` : `exit code ${code}`}`);
      })()),
  };
}

function setRef(child: ChildProcess, on: boolean): void {
  for (const h of [child, child.stdin, child.stdout, child.stderr] as unknown as ({ ref?: () => void; unref?: () => void } | null)[]) {
    (on ? h?.ref : h?.unref)?.call(h); // Bun's pipes have neither
  }
}

function readReady(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<{ socket: string; credential: string }> {
  return new Promise((resolve, reject) => {
    let out = "";
    const done = (e?: Error, v?: { socket: string; credential: string }) => {
      clearTimeout(timer);
      child.stdout!.removeListener("data", onData);
      child.removeListener("exit", onExit);
      child.removeListener("error", onError);
      if (e) reject(e);
      else resolve(v!);
    };
    const why = () => (stderr().trim() ? `: ${stderr().trim()}` : "");
    const timer = setTimeout(() => done(new HushError("unavailable", `hush run did not start within ${timeoutMs} ms${why()}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString("utf8");
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      try {
        const v = JSON.parse(out.slice(0, nl)) as { socket?: unknown; credential?: unknown };
        if (typeof v.socket === "string" && typeof v.credential === "string") return done(undefined, { socket: v.socket, credential: v.credential });
      } catch {}
      done(new HushError("internal", "hush run answered with something other than the keeper's line"));
    };
    const onExit = (code: number | null, signal: string | null) => done(new HushError("unavailable", `hush run exited (${code ?? signal}) before the daemon was ready${why()}`));
    const onError = (e: NodeJS.ErrnoException) => done(new HushError("unavailable", `cannot start ${child.spawnfile}: ${e.code ?? e.message}`));
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}
