/**
 * A real failover between two daemons on one Redis (docs/CLUSTER.md §10):
 * the SDK, given both addresses, works through the first; when it stops
 * (its socket gone), the next call is served by the second, which sees
 * everything written through the first, and a counter moves once per call.
 * The worker key is issued on the first daemon only (key records are shared
 * in Redis, docs/CLUSTER.md §10); the daemons, Redis and sockets are real.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeCredential } from "../../src/keys/index.ts";
import { Client } from "../../src/client/index.ts";
import type { Daemon } from "../../src/server/daemon.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { inProcessDaemon } from "./_cluster.ts";

let redis: TestRedis;
const daemons: Daemon[] = [];

async function daemon(prefix: string): Promise<Daemon> {
  const d = await inProcessDaemon(redis, prefix, 5, "hush-failover-");
  daemons.push(d);
  return d;
}

/** Two daemons on one prefix, and one worker credential both accept. */
async function pair(prefix: string): Promise<{ d1: Daemon; d2: Daemon; credential: string }> {
  const [d1, d2] = [await daemon(prefix), await daemon(prefix)];
  const rec = d1.state.registry.create({ kind: "worker", name: "w", via: "issue" });
  await d1.state.registry.flush();
  const credential = encodeCredential({ kind: "worker", keyId: rec.id, macKey: rec.macKey, encKey: rec.encKey, serverPublic: d1.state.serverKeys.active.publicKey });
  return { d1, d2, credential };
}

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const d of daemons) await d.stop();
  await redis?.stop();
});

if (REDIS_MISSING) console.warn(`failover across daemons: skipped: ${REDIS_MISSING}`);

describe.skipIf(REDIS_MISSING !== null)("the SDK fails over between two daemons on one Redis", () => {
  for (const transport of ["ws", "http"] as const) {
    test(`over ${transport}: the first stops, the second serves the next call and sees what the first stored`, async () => {
      const { d1, d2, credential } = await pair(`hush:fo-${transport}:`);
      const c = new Client({ url: `unix:${d1.socketPath},unix:${d2.socketPath}`, credential, transport, autoRekey: false });
      try {
        await c.set("db/url", "postgres://one", { ttlMs: 60_000 });
        expect(await c.incr("calls", 1, { ttlMs: 60_000 })).toBe(1);
        await d1.stop();
        expect(await c.get("db/url")).toBe("postgres://one");
        expect(await c.incr("calls", 1, { ttlMs: 60_000 })).toBe(2);
        const lock = await c.lock("deploy", { ttlMs: 30_000 });
        expect(lock.token).toBeGreaterThan(0);
        await lock.release();
      } finally {
        c.close();
      }
    });
  }
});
