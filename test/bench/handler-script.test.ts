/**
 * Smoke test of bench/handler.ts (the request pipeline called in-process): it
 * loads the modules of this checkout, so an API change that breaks it shows
 * here rather than when someone next measures. Its imports are dynamic (for
 * `--root`), so tsc does not check its calls. No timing assertions.
 */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";

const SCRIPT = resolve(import.meta.dir, "../../bench/handler.ts");

describe("bench/handler.ts", () => {
  for (const op of ["get", "set", "ping"]) {
    test(`--op ${op} runs and prints its JSON result`, async () => {
      const p = Bun.spawn([process.execPath, SCRIPT, "--n", "70", "--op", op], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      expect(err).toBe("");
      expect(code).toBe(0);
      const j = JSON.parse(out.trim().split("\n").pop()!);
      expect(j).toMatchObject({ op, n: 70 });
      expect(j.runs).toHaveLength(7);
      expect(j.cpu_us_per_request.min).toBeGreaterThan(0);
    }, 60_000);
  }
});
