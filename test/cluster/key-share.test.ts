/**
 * The rules of shared key records (docs/CLUSTER.md §10), with two daemons'
 * registries on one real Redis: a record made by one is fetched by the
 * other with the same keys; the replay-cache script hands a changed record
 * over; a revocation that races another change wins; a record rolled back
 * in Redis cannot undo a revocation a daemon has seen; a record moved to
 * another key id or changed does not open; a live record lost from Redis
 * is dropped, never written back from a cache that may be stale; a
 * revocation outlives the ended record in a daemon's cache.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes, toB64u } from "../../src/crypto/index.ts";
import { SharedKeyRegistry } from "../../src/broker/index.ts";
import { openRedisBackend, parseBackendUrl, type RedisBackend } from "../../src/cluster/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { codeOfCall } from "./_cluster.ts";

let redis: TestRedis;
const open: RedisBackend[] = [];

async function daemon(prefix: string): Promise<{ reg: SharedKeyRegistry; b: RedisBackend }> {
  const b = await openRedisBackend({
    target: parseBackendUrl(redis.url),
    password: redis.password,
    clusterKey: new Uint8Array(32).fill(7),
    prefix,
    timeoutMs: 2000,
    windowMs: 60_000,
    perKey: 100,
  });
  open.push(b);
  const reg = new SharedKeyRegistry(b.keys, Date.now);
  b.replay.keys = reg;
  return { reg, b };
}


const fresh = () => `hush:${toB64u(randomBytes(6))}:`;
const remember = (d: { b: RedisBackend }, id: string) => d.b.replay.remember(id, toB64u(randomBytes(12)), Date.now(), Date.now());

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const b of open) b.store.close();
  await redis?.stop();
});

if (REDIS_MISSING) console.warn(`shared key records: skipped: ${REDIS_MISSING}`);

describe.skipIf(REDIS_MISSING !== null)("shared key records", () => {
  test("made by one, fetched by the other with the same keys; a change reaches the other through the replay-cache answer", async () => {
    const p = fresh();
    const [a, b] = [await daemon(p), await daemon(p)];
    const rec = a.reg.create({ kind: "worker", name: "w", tags: ["ci"], via: "issue" });
    await a.reg.flush();
    const got = (await b.reg.fetch(rec.id))!;
    expect(got.macKey).toEqual(rec.macKey);
    expect(got.encKey).toEqual(rec.encKey);
    expect(got.tags).toEqual(["ci"]);
    a.reg.demandRekey(rec);
    await a.reg.flush();
    expect(got.rekeyRequired).toBe(false); // B has not seen it yet
    expect(await remember(b, rec.id)).toBe("ok");
    expect(got.rekeyRequired).toBe(true); // the script's answer brought it
    expect(b.reg.storedVer(rec.id)).toBe(2);
    a.reg.revoke(rec.id);
    await a.reg.flush();
    await remember(b, rec.id);
    expect(got.revokedAt).not.toBeNull();
    expect(got.macKey.every((x) => x === 0)).toBe(true); // wiped on B too
  });

  test("a revocation that races another daemon's change wins; the other change answers conflict", async () => {
    const p = fresh();
    const [a, b] = [await daemon(p), await daemon(p)];
    const rec = a.reg.create({ kind: "worker", name: "w", via: "issue" });
    await a.reg.flush();
    const onB = (await b.reg.fetch(rec.id))!;
    b.reg.revoke(rec.id); // both change version 1 at once
    a.reg.demandRekey(rec);
    const [ra, rb] = [await codeOfCall(() => a.reg.flush()), await codeOfCall(() => b.reg.flush())];
    // Whichever wrote first, the stored record ends revoked, and both daemons see it so.
    await a.reg.flush()?.catch(() => {});
    await b.reg.flush()?.catch(() => {});
    await remember(a, rec.id);
    await remember(b, rec.id);
    expect(rec.revokedAt).not.toBeNull();
    expect(onB.revokedAt).not.toBeNull();
    expect((await a.b.keys.get(rec.id)).rec!.revokedAt).not.toBeNull();
    expect([ra, rb].filter((r) => r === "conflict").length).toBeLessThanOrEqual(1);
  });

  test("a record rolled back in Redis cannot undo a revocation a daemon has seen", async () => {
    const p = fresh();
    const [a, b] = [await daemon(p), await daemon(p)];
    const rec = a.reg.create({ kind: "worker", name: "w", via: "issue" });
    await a.reg.flush();
    const onB = (await b.reg.fetch(rec.id))!;
    const before = await redis.admin("HGET", `${p}w:${rec.id}`, "s");
    a.reg.revoke(rec.id);
    await a.reg.flush();
    await remember(b, rec.id);
    expect(onB.revokedAt).not.toBeNull();
    // The attacker puts the old sealed record back, under a higher version: it does not open there.
    await redis.admin("HSET", `${p}w:${rec.id}`, "v", "9", "s", before.trim());
    expect(await codeOfCall(() => remember(b, rec.id))).toBe("internal");
    // Under its own version it opens, but B keeps the revocation (and writes it back).
    await redis.admin("HSET", `${p}w:${rec.id}`, "v", "1", "s", before.trim());
    expect(await remember(b, rec.id)).toBe("ok");
    expect(onB.revokedAt).not.toBeNull();
    await b.reg.flush();
    expect((await a.b.keys.get(rec.id)).rec!.revokedAt).not.toBeNull();
  });

  test("a record moved to another key id does not open", async () => {
    const p = fresh();
    const [a, b] = [await daemon(p), await daemon(p)];
    const r1 = a.reg.create({ kind: "worker", name: "one", via: "issue" });
    const r2 = a.reg.create({ kind: "worker", name: "two", via: "issue" });
    await a.reg.flush();
    const sealed = (await redis.admin("HGET", `${p}w:${r1.id}`, "s")).trim();
    await redis.admin("HSET", `${p}w:${r2.id}`, "v", "1", "s", sealed);
    expect(await codeOfCall(() => b.reg.fetch(r2.id))).toBe("internal");
  });

  test("a live record lost from Redis is not written back from a stale cache: a revocation made elsewhere is not undone", async () => {
    const p = fresh();
    const [a, b] = [await daemon(p), await daemon(p)];
    const rec = a.reg.create({ kind: "worker", name: "w", via: "issue" });
    await a.reg.flush();
    const onB = (await b.reg.fetch(rec.id))!;
    a.reg.revoke(rec.id);
    await a.reg.flush();
    // Redis loses the record before B saw the revocation (a restart, or a DEL): B's copy is live and stale.
    await redis.admin("DEL", `${p}w:${rec.id}`);
    expect(onB.revokedAt).toBeNull();
    expect(await remember(b, rec.id)).toBe("ok");
    expect(b.reg.get(rec.id)).toBeUndefined(); // dropped, not trusted
    expect(onB.revokedAt).not.toBeNull(); // a request already checked against it is refused on its re-check
    await b.reg.flush();
    expect((await b.b.keys.get(rec.id)).rec).toBeNull(); // B wrote nothing back
    expect(await b.reg.fetch(rec.id)).toBeUndefined();
    // A, which saw the revocation, writes the ended record back: it only takes access away.
    expect(await remember(a, rec.id)).toBe("ok");
    await a.reg.flush();
    expect((await b.b.keys.get(rec.id)).rec!.revokedAt).not.toBeNull();
  });

  test("a revocation outlives the ended record in the cache: a rolled-back record does not reopen the key here", async () => {
    const p = fresh();
    const a = await daemon(p);
    const rec = a.reg.create({ kind: "worker", name: "w", via: "issue" });
    await a.reg.flush();
    const before = (await redis.admin("HGET", `${p}w:${rec.id}`, "s")).trim();
    a.reg.revoke(rec.id);
    await a.reg.flush();
    a.reg.sweep(-1); // the ended record leaves the cache (as after an hour, or past twice --max-workers)
    expect(a.reg.get(rec.id)).toBeUndefined();
    await redis.admin("HSET", `${p}w:${rec.id}`, "v", "1", "s", before);
    const back = await a.reg.fetch(rec.id);
    expect(back === undefined || back.revokedAt !== null).toBe(true);
    // Redis keeps the revoked record for the rest of the key's life, not an hour.
    const ttl = Number((await redis.admin("PTTL", `${p}w:${rec.id}`)).trim());
    expect(ttl).toBeGreaterThan(2 * 3_600_000);
  });
});
