/**
 * A replay across daemons (docs/CLUSTER.md §5): two daemons on one Redis
 * share the replay cache, so a signed request accepted by one is refused by
 * the other. The key is issued on one daemon (key records are shared too:
 * docs/CLUSTER.md §10), and the very same bytes go to each over its unix
 * socket.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signRequest } from "../../src/auth/index.ts";
import type { Daemon } from "../../src/server/daemon.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { inProcessDaemon } from "./_cluster.ts";

let redis: TestRedis;
const daemons: Daemon[] = [];

async function daemon(): Promise<Daemon> {
  const d = await inProcessDaemon(redis, "hush:replay:", 3, "hush-cluster-");
  daemons.push(d);
  return d;
}

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const d of daemons) await d.stop();
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
