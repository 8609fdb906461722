/**
 * Test helper: start `dist/hush serve ARGS` that is expected to refuse;
 * if it is still running after `ms` (it adopted what it was given and
 * served), kill it and report "still running" instead of an exit code.
 */
import { HUSH } from "../e2e/_harness.ts";

export async function tryServe(args: string[], ms = 10_000): Promise<{ code: number | string; stderr: string }> {
  const p = Bun.spawn([HUSH, "serve", ...args], { env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = new Response(p.stderr).text();
  const code = await Promise.race([p.exited, Bun.sleep(ms).then(() => "still running")]);
  if (code === "still running") {
    p.kill("SIGKILL");
    await p.exited;
  }
  return { code, stderr: await stderr };
}
