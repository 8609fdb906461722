/**
 * A replay across daemons (docs/CLUSTER.md §5): two daemons on one Redis
 * share the replay cache, so a signed request accepted by one is refused by
 * the other. The key is issued on one daemon (key records are shared too:
 * docs/CLUSTER.md §10), and the very same bytes go to each over its unix
 * socket.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DEFAULTS } from "../../src/config/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { openRedisBackend, parseBackendUrl } from "../../src/cluster/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { tempDir } from "../_tmp.ts";

let redis: TestRedis;
const daemons: Daemon[] = [];
const dirs: string[] = [];

async function daemon(): Promise<Daemon> {
  const b = await openRedisBackend({
    target: parseBackendUrl(redis.url),
    password: redis.password,
    clusterKey: new Uint8Array(32).fill(3),
    prefix: "hush:replay:",
    timeoutMs: 2000,
    windowMs: DEFAULTS.clockWindowMs,
    perKey: DEFAULTS.nonceCachePerKey,
  });
  const dir = tempDir("hush-cluster-");
  dirs.push(dir);
  const d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "run", "hush.sock") }, { version: "test", log: new Logger({ level: "error" }), backend: b });
  daemons.push(d);
  return d;
}

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const d of daemons) await d.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await redis?.stop();
});

if (REDIS_MISSING) console.warn(`replay across daemons: skipped: ${REDIS_MISSING}`);

test.skipIf(REDIS_MISSING !== null)("a request accepted by one daemon is refused as a replay by the other (and by itself)", async () => {
  const [d1, d2] = [await daemon(), await daemon()];
  const rec = d1.state.registry.create({ kind: "worker", name: "w", via: "issue" });
  await d1.state.registry.flush();
  const body = '{"value":"v","ttl_ms":60000}';
  const s = signRequest(rec.macKey, rec.id, { method: "PUT", target: "/v1/kv/replayed", body });
  const send = (d: Daemon) =>
    fetch("http://localhost/v1/kv/replayed", { method: "PUT", headers: { authorization: s.authorization, "content-type": "application/json" }, body, unix: d.socketPath } as RequestInit);
  const first = await send(d1);
  expect(first.status).toBe(200);
  for (const d of [d2, d1]) {
    const again = await send(d);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: string }).error).toBe("auth_failed");
  }
  const metrics = (d: Daemon) => d.state.metrics.render();
  expect(metrics(d2)).toContain('hush_auth_failures_total{reason="replayed_nonce"} 1');
  // A fresh request with the same key works on the other daemon, and sees the value.
  const g = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/kv/replayed" });
  const r = await fetch("http://localhost/v1/kv/replayed", { headers: { authorization: g.authorization }, unix: d2.socketPath } as RequestInit);
  expect(await r.json()).toMatchObject({ value: "v" });
});
