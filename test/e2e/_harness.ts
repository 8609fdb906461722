/**
 * Drives the compiled binary (dist/hush) as a user would: a real daemon in
 * a fresh private directory, CLI commands with real argv/env/stdin.
 */
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { atRunEnd, tempDir } from "../_tmp.ts";

export { tempDir, removeTempDir } from "../_tmp.ts";

export const HUSH = resolve(import.meta.dir, "../../dist/hush");

if (!existsSync(HUSH)) throw new Error("dist/hush is missing: run `bun release/build.ts` first (npm test does)");

/** A TCP port on 127.0.0.1 that was free a moment ago (for --listen). */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `hush ARGS…` to completion. */
export async function hush(args: string[], opts: { env?: Record<string, string | undefined>; stdin?: string | Uint8Array; cwd?: string } = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...opts.env })) if (v !== undefined) env[k] = v;
  const p = Bun.spawn([HUSH, ...args], {
    env,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin as any]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

export interface Daemon {
  dir: string;
  socket: string;
  admin: string;
  proc: ReturnType<typeof Bun.spawn>;
  /** Everything the daemon wrote to stderr so far. */
  log(): string;
  /** Run a CLI command against this daemon. */
  cli(args: string[], opts?: { env?: Record<string, string | undefined>; stdin?: string | Uint8Array }): Promise<CliResult>;
  /** Issue a worker credential through the CLI (admin socket). */
  issue(name: string, extra?: string[]): Promise<string>;
  /** SIGTERM and wait; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  cleanup(): void;
}

export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Start `hush serve` on a socket in a fresh directory. */
export async function startDaemon(args: string[] = [], opts: { dir?: string; socket?: string; env?: Record<string, string> } = {}): Promise<Daemon> {
  const dir = opts.dir ?? tempDir();
  const socket = opts.socket ?? join(dir, "run", "hush.sock");
  let log = "";
  const proc = Bun.spawn([HUSH, "serve", "--socket", socket, ...args], {
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const forget = atRunEnd(() => proc.kill("SIGKILL"));
  proc.exited.then(forget);
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr as any) log += dec.decode(chunk, { stream: true });
  })();
  new Response(proc.stdout as any).text().then((t) => (log += t));
  const d: Daemon = {
    dir,
    socket,
    admin: join(socket, "..", "admin.sock"),
    proc,
    log: () => log,
    cli: (a, o = {}) => hush(a, { ...o, env: { HUSH_SOCKET: socket, ...o.env } }),
    async issue(name, extra = []) {
      const r = await d.cli(["workers", "issue", "--name", name, ...extra]);
      if (r.code !== 0) throw new Error(`issue failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    async stop(signal = "SIGTERM") {
      proc.kill(signal);
      return await proc.exited;
    },
    cleanup() {
      try {
        proc.kill("SIGKILL");
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`hush serve exited ${proc.exitCode}: ${log}`);
    return log.includes("hush: ready");
  }, 10_000, "hush serve to be ready");
  return d;
}

/**
 * A request that stays in flight: a POST whose body never comes (the daemon
 * waits up to 5 s for it), so a drain at shutdown has something to wait for.
 * Destroy the returned socket to end it.
 */
export async function slowRequest(socket: string): Promise<import("node:net").Socket> {
  const { connect } = await import("node:net");
  const s = connect({ path: socket });
  s.on("error", () => {});
  s.write("POST /v1/kv/slow HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
  await new Promise((r) => setTimeout(r, 200)); // let the daemon take the request in
  return s;
}

/** A raw HTTP request on a unix socket (for malformed-input tests). */
export async function rawRequest(socket: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string | Uint8Array } = {}) {
  const res = await fetch("http://localhost" + path, { method, headers: init.headers, body: init.body as any, unix: socket } as RequestInit);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}
