/**
 * Smoke test of `hush bench` through the compiled binary: it starts its own
 * private daemon, runs, prints the JSON report with zero errors, and removes
 * everything. No timing assertions (shared CI machines are noisy).
 */
import { describe, expect, test } from "bun:test";
import { hush } from "../e2e/_harness.ts";

function parse(stdout: string) {
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

describe("hush bench", () => {
  test("--op get --requests 200 --connections 2 --json", async () => {
    const r = await hush(["bench", "--op", "get", "--requests", "200", "--connections", "2", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = parse(r.stdout);
    expect(j).toMatchObject({ op: "get", connections: 2, requests: 200, errors: 0, value_size: 100 });
    for (const k of ["p50", "p90", "p99", "p999", "min", "max", "mean"]) expect(typeof j.latency_ms[k]).toBe("number");
    expect(j.latency_ms.p50).toBeLessThanOrEqual(j.latency_ms.p99);
    expect(j.latency_ms.p99).toBeLessThanOrEqual(j.latency_ms.max);
    expect(j.ops_per_sec).toBeGreaterThan(0);
    expect(j.daemon.private).toBe(true);
    expect(j.daemon.rss_before).toBeGreaterThan(0);
    expect(j.error_kinds).toEqual({});
  }, 60_000);

  test("every op runs without errors", async () => {
    for (const op of ["ping", "set", "incr", "lock", "checkout", "join"]) {
      const r = await hush(["bench", "--op", op, "--requests", "40", "--connections", "2", "--warmup", "0", "--json"]);
      expect({ op, code: r.code, stderr: r.stderr }).toEqual({ op, code: 0, stderr: "" });
      expect(parse(r.stdout)).toMatchObject({ op, requests: 40, errors: 0 });
    }
  }, 120_000);

  test("the table output names every column", async () => {
    const r = await hush(["bench", "--op", "ping", "--requests", "50", "--connections", "1", "--warmup", "0"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0].split(/\s{2,}/)).toEqual(["op", "conns", "requests", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms"]);
    expect(r.stdout).toContain("daemon RSS");
  }, 60_000);

  test("bad input is refused with exit 2", async () => {
    expect((await hush(["bench", "--op", "nope"])).code).toBe(2);
    expect((await hush(["bench", "--duration", "1s", "--requests", "5"])).code).toBe(2);
    // An existing daemon needs a worker credential (never from argv).
    const r = await hush(["bench", "--socket", "/nonexistent/hush.sock", "--op", "get"], { env: { HUSH_CREDENTIAL: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no credential");
  }, 60_000);
});
