/**
 * Running npm, npx and node as a user's shell would, for the tests that
 * install hush's npm packages into fresh projects: no `npm_*` variables
 * inherited from `npm test`, no HUSH_* variables, NO_COLOR set.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./_tmp.ts";

/** process.env without npm's lifecycle variables and hush's own. */
export function npmEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...extra })) {
    if (v === undefined || /^npm_/i.test(k) || (k.startsWith("HUSH_") && !(k in extra))) continue;
    env[k] = v;
  }
  return env;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to completion (synchronously). */
export function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): RunResult {
  const t0 = performance.now();
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd, env: npmEnv(opts.env), stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs ?? 300_000 });
  return { code: r.exitCode ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString(), ms: Math.round(performance.now() - t0) };
}


export { tempDir };

/** A fresh directory with a private package.json (plus `fields`). */
export function tempProject(prefix: string, fields: Record<string, unknown>): string {
  const d = tempDir(prefix);
  writeFileSync(join(d, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, ...fields }, null, 2) + "\n");
  return d;
}

/** The first line a process writes to `stream` (with its newline; less if the stream ends first). */
export async function readLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    out += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  return out;
}
