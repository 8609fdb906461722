/**
 * After Redis restarts empty, a daemon refuses signed requests for its quiet
 * period (docs/CLUSTER.md §7): the message says when the period ends and
 * how long is left, and `hush status` reports the state instead of failing
 * with a bare error. Compiled binary, real Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "../cluster/_redis.ts";
import { clusterArgs } from "../cluster/_cluster.ts";
import { hush, rawRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

if (REDIS_MISSING) console.warn(`quiet-period e2e: skipped: ${REDIS_MISSING}`);

let redis: TestRedis;
let d: Daemon;

describe.skipIf(REDIS_MISSING !== null)("the quiet period after Redis lost its state", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
    const dir = tempDir();
    d = await startDaemon([...(await clusterArgs(redis, dir, new Set())), "--clock-window", "30s", "--backend-timeout", "500ms"]);
  });

  afterAll(async () => {
    d?.cleanup();
    await redis?.stop();
  });

  test("the refusal says when the quiet period ends and how long is left; hush status reports it", async () => {
    const cred = await d.issue("quiet");
    const env = { HUSH_SOCKET: d.socket, HUSH_URL: undefined, HUSH_CREDENTIAL: cred };
    expect((await hush(["kv", "set", "k", "--ttl", "1m"], { env, stdin: "v" })).code).toBe(0);
    await redis.kill();
    await redis.start();
    await waitFor(async () => String((await rawRequest(d.socket, "GET", "/v1/ready")).json?.message).includes("quiet"), 15_000, "quiet period");
    const r = await hush(["kv", "get", "k"], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("quiet period ends at 20");
    expect(r.stderr).toMatch(/in \d+ ?s/);
    const s = await hush(["status"], { env });
    expect(s.stderr).toBe("");
    expect(s.code).toBe(6);
    expect(s.stdout).toMatch(/quiet period ends at 20/);
  }, 40_000);
});
