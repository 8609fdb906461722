/**
 * The state-backend contract (src/broker/backend.ts), one suite run against
 * both implementations: the in-memory `MemoryStore` and the Redis
 * `RedisStore` (a real redis-server, the ACL user limited to hush's prefix
 * and commands). Times are real (Redis keeps its own clock), so expiry is
 * checked with short TTLs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HushError, type ErrorCode } from "../../src/errors.ts";
import { randomBytes, toB64u, utf8, fromUtf8 } from "../../src/crypto/index.ts";
import { MemoryStore, type StateBackend, type StoreLimits } from "../../src/broker/index.ts";
import { openRedisBackend, parseBackendUrl } from "../../src/cluster/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";

let redis: TestRedis | undefined;
const opened: StateBackend[] = [];

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const s of opened) await s.close();
  await redis?.stop();
});

/** A Redis store on a fresh prefix of the test Redis (one daemon's view). */
export async function redisStore(r: TestRedis, limits?: Partial<StoreLimits>, prefix = `hush:${toB64u(randomBytes(6))}:`, key = new Uint8Array(32).fill(7)) {
  const b = await openRedisBackend({
    target: parseBackendUrl(r.url),
    password: r.password,
    clusterKey: key.slice(),
    prefix,
    timeoutMs: 2000,
    windowMs: 60_000,
    perKey: 1000,
    limits,
  });
  opened.push(b.store);
  return b;
}

const BACKENDS: [string, (limits?: Partial<StoreLimits>) => Promise<StateBackend>][] = [
  ["memory", async (limits) => new MemoryStore({ now: () => Date.now(), limits, tokenBase: Date.now() * 1000 })],
  ["redis", async (limits) => (await redisStore(redis!, limits)).store],
];

const json = (v: unknown) => utf8(JSON.stringify(v));

async function code(p: unknown): Promise<ErrorCode | "ok"> {
  try {
    await (typeof p === "function" ? p() : p);
    return "ok";
  } catch (e) {
    if (e instanceof HushError) return e.code;
    throw e;
  }
}

async function error(p: () => unknown): Promise<HushError> {
  try {
    await p();
  } catch (e) {
    if (e instanceof HushError) return e;
    throw e;
  }
  throw new Error("expected a HushError");
}

for (const [kind, make] of BACKENDS) {
  const skip = kind === "redis" && REDIS_MISSING !== null;
  if (skip) console.warn(`contract (redis): skipped: ${REDIS_MISSING}`);
  describe.skipIf(skip)(`state backend contract: ${kind}`, () => {
    test("kv: set, get, overwrite, delete; missing keys", async () => {
      const s = await make();
      const t0 = Date.now();
      const r = await s.set("app/token", json({ a: "s3cret" }), { ttlMs: 60_000 });
      expect(r.expires_at!).toBeGreaterThanOrEqual(t0 + 60_000 - 50);
      expect(r.expires_at!).toBeLessThanOrEqual(Date.now() + 60_000 + 50);
      const g = await s.get("app/token");
      expect(fromUtf8(g.valueJson)).toBe('{"a":"s3cret"}');
      expect(g.expires_at).toBe(r.expires_at);
      // Overwrite without a TTL keeps the expiry.
      expect((await s.set("app/token", json(2))).expires_at).toBe(r.expires_at);
      expect(fromUtf8((await s.get("app/token")).valueJson)).toBe("2");
      expect(await s.del("app/token")).toEqual({ deleted: true });
      expect(await s.del("app/token")).toEqual({ deleted: false });
      expect(await code(() => s.get("app/token"))).toBe("not_found");
    });

    test("kv: input checks (ttl_required, too_large, empty, names, TTLs) change nothing", async () => {
      const s = await make({ maxValueBytes: 16 });
      expect(await code(() => s.set("new", json(1)))).toBe("ttl_required");
      expect(await code(() => s.set("big", json("x".repeat(20)), { ttlMs: 1000 }))).toBe("too_large");
      expect(await code(() => s.set("e", new Uint8Array(0), { ttlMs: 1000 }))).toBe("invalid_request");
      expect(await code(() => s.set("", json(1), { ttlMs: 1000 }))).toBe("invalid_request");
      expect(await code(() => s.set("a\u202eb", json(1), { ttlMs: 1000 }))).toBe("invalid_request");
      expect(await code(() => s.set("k", json(1), { ttlMs: 0 }))).not.toBe("ok");
      expect(await code(() => s.set("k", json(1), { ttlMs: 1.5 }))).not.toBe("ok");
      expect((await s.stats()).items).toBe(0);
      const noTtl = await make({ ttlRequired: false });
      expect((await noTtl.set("forever", json(true))).expires_at).toBeNull();
      expect((await noTtl.get("forever")).expires_at).toBeNull();
    });

    test("kv: the buffer passed to set is zero-filled when refused", async () => {
      const s = await make({ maxValueBytes: 8 });
      const b = json("0123456789");
      expect(await code(() => s.set("k", b, { ttlMs: 1000 }))).toBe("too_large");
      expect(b.every((x) => x === 0)).toBe(true);
    });

    test("kv: a key expires at its TTL", async () => {
      const s = await make();
      await s.set("short", json(1), { ttlMs: 80 });
      await s.incr("short-n", 1, 80);
      expect(fromUtf8((await s.get("short")).valueJson)).toBe("1");
      await Bun.sleep(160);
      expect(await code(() => s.get("short"))).toBe("not_found");
      expect(await s.incr("short-n", 5, 1000)).toEqual({ value: 5 });
      expect((await s.listPage("short")).keys).toEqual(["short-n"]);
    });

    test("counters: start at by, add, keep the expiry; refuse non-integers and overflow", async () => {
      const s = await make();
      expect(await code(() => s.incr("n", 1))).toBe("ttl_required");
      expect(await s.incr("n", 5, 60_000)).toEqual({ value: 5 });
      const e = (await s.get("n")).expires_at;
      expect(await s.incr("n", -7)).toEqual({ value: -2 });
      expect((await s.get("n")).expires_at).toBe(e);
      await s.set("text", json("s3cret-value"), { ttlMs: 60_000 });
      const err = await error(() => s.incr("text", 1));
      expect(err.code).toBe("invalid_request");
      expect(err.message).not.toContain("s3cret");
      await s.set("big", json(Number.MAX_SAFE_INTEGER), { ttlMs: 60_000 });
      expect(await code(() => s.incr("big", 1))).toBe("invalid_request");
      expect(await code(() => s.incr("n", 1.5))).toBe("invalid_request");
    });

    test("counters: concurrent increments are all counted", async () => {
      const s = await make();
      await Promise.all(Array.from({ length: 40 }, () => s.incr("hits", 1, 60_000)));
      expect(fromUtf8((await s.get("hits")).valueJson)).toBe("40");
    });

    test("kv: listing pages by prefix in UTF-16 order, with cursors", async () => {
      const s = await make({ maxListPage: 3 });
      for (const k of ["b/2", "b/1", "a/1", "b/10", "b/3", "c", "b/é"]) await s.set(k, json(k), { ttlMs: 60_000 });
      expect((await s.listPage("b/")).keys).toEqual(["b/1", "b/10", "b/2"]);
      const p1 = await s.listPage("b/", { limit: 2 });
      expect(p1.keys).toEqual(["b/1", "b/10"]);
      const p2 = await s.listPage("b/", { limit: 2, cursor: p1.next_cursor! });
      expect(p2.keys).toEqual(["b/2", "b/3"]);
      const p3 = await s.listPage("b/", { limit: 2, cursor: p2.next_cursor! });
      expect(p3).toEqual({ keys: ["b/é"], next_cursor: null });
      expect((await s.listPage("")).keys).toEqual(["a/1", "b/1", "b/10"]);
      expect(await code(() => s.listPage("b/", { cursor: "!!" }))).toBe("invalid_request");
      expect(await code(() => s.listPage("b/", { limit: 0 }))).toBe("invalid_request");
    });

    test("max_items counts KV keys, locks, claims and pool leases; overwriting or renewing needs no room", async () => {
      const s = await make({ maxItems: 4 });
      await s.set("a", json(1), { ttlMs: 60_000 });
      await s.acquireLock("l", 60_000, undefined, "w_owner");
      const p = await s.leasePool("p", 2, 60_000, "h", "w_owner");
      await s.claimKey("made-later", 60_000, "w_owner");
      expect(await code(() => s.set("b", json(1), { ttlMs: 60_000 }))).toBe("max_items");
      expect(await code(() => s.acquireLock("l2", 60_000))).toBe("max_items");
      expect(await code(() => s.incr("c", 1, 60_000))).toBe("max_items");
      expect(await code(() => s.claimKey("c2", 60_000, "w_owner"))).toBe("max_items");
      expect(await code(() => s.leasePool("p", 2, 60_000, undefined, "w_other"))).toBe("max_items"); // a lease is an item
      expect(await code(() => s.set("a", json(2), { ttlMs: 60_000 }))).toBe("ok");
      expect(await s.leasePool("p", 2, 60_000, "h", "w_owner")).toMatchObject({ slot: 0, token: p.token }); // the same holder's lease
      expect(s.refusals.counts.get("items")).toBe(5);
      expect(await s.stats()).toMatchObject({ items: 4, kv: 1, locks: 1, claims: 1, pools: 1, leases: 1 });
      await s.del("a");
      expect(await code(() => s.leasePool("p", 2, 60_000, undefined, "w_other"))).toBe("ok");
      expect(await s.stats()).toMatchObject({ items: 4, kv: 0, locks: 1, claims: 1, pools: 1, leases: 2 });
    });

    test("locks: one holder; only the owner with its token renews or releases; tokens rise", async () => {
      const s = await make();
      const a = await s.acquireLock("deploy", 60_000, "host-a", "w_a");
      const held = await error(() => s.acquireLock("deploy", 60_000, "host-a", "w_a"));
      expect(held.code).toBe("conflict");
      expect(held.detail.expiresAt).toBe(a.expires_at);
      expect(await code(() => s.renewLock("deploy", a.token, 1000, "w_b"))).toBe("conflict");
      expect(await code(() => s.releaseLock("deploy", a.token, "w_b"))).toBe("conflict");
      expect(await s.releaseLock("deploy", a.token + 1, "w_a")).toEqual({ released: false }); // holds nothing: idempotent
      expect(await code(() => s.renewLock("other", a.token, 1000, "w_a"))).toBe("not_found");
      const t = Date.now();
      const r = await s.renewLock("deploy", a.token, undefined, "w_a");
      expect(r.expires_at).toBeGreaterThanOrEqual(t + 60_000 - 50);
      expect(await s.releaseLock("deploy", a.token, "w_a")).toEqual({ released: true });
      expect(await s.releaseLock("deploy", a.token, "w_a")).toEqual({ released: false });
      const b = await s.acquireLock("deploy", 60_000, undefined, "w_b");
      const c = await s.acquireLock("other", 60_000, undefined, "w_b");
      expect(b.token).toBeGreaterThan(a.token);
      expect(c.token).toBeGreaterThan(b.token);
      expect(a.token).toBeGreaterThan(Date.now() * 1000 - 10_000_000); // the time base (§6)
      expect(await code(() => s.acquireLock("x", undefined))).toBe("ttl_required");
      expect(await code(() => s.renewLock("deploy", -1, 1000, "w_b"))).toBe("invalid_request");
    });

    test("locks: an expired lock can be taken again, with a higher token", async () => {
      const s = await make();
      const a = await s.acquireLock("short", 80, undefined, "w_a");
      await Bun.sleep(160);
      expect(await code(() => s.renewLock("short", a.token, 1000, "w_a"))).toBe("not_found");
      const b = await s.acquireLock("short", 1000, undefined, "w_b");
      expect(b.token).toBeGreaterThan(a.token);
    });

    test("pools: smallest free slot, same holder and key gets its lease back, sizes and exhaustion", async () => {
      const s = await make();
      const l0 = await s.leasePool("db", 3, 60_000, "w1", "w_a");
      const l1 = await s.leasePool("db", 3, 60_000, "w2", "w_a");
      expect([l0.slot, l1.slot]).toEqual([0, 1]);
      const again = await s.leasePool("db", 3, 60_000, "w1", "w_a");
      expect(again).toMatchObject({ slot: 0, token: l0.token });
      const other = await s.leasePool("db", 3, 60_000, "w1", "w_b"); // same holder, another key
      expect(other.slot).toBe(2);
      const full = await error(() => s.leasePool("db", 3, 60_000, undefined, "w_c"));
      expect(full.code).toBe("conflict");
      expect(full.detail.size).toBe(3);
      expect(full.detail.expiresAt).toBe(Math.min(again.expires_at, l1.expires_at, other.expires_at)); // when the next lease runs out
      expect((await error(() => s.leasePool("db", 4, 60_000))).detail.size).toBe(3);
      expect(await code(() => s.releasePool("db", l1.token, "w_b"))).toBe("conflict");
      expect(await s.releasePool("db", l1.token, "w_a")).toEqual({ released: true });
      expect(await s.releasePool("db", l1.token, "w_a")).toEqual({ released: false });
      expect((await s.leasePool("db", 3, 60_000, undefined, "w_c")).slot).toBe(1);
      expect(await code(() => s.leasePool("db", 0, 60_000))).toBe("invalid_request");
      expect(await code(() => s.leasePool("db", 3, undefined))).toBe("ttl_required");
      // Emptied, a pool is forgotten and may come back with another size.
      for (const t of [l0.token, other.token]) await s.releasePool("db", t, t === l0.token ? "w_a" : "w_b");
      const last = (await s.stats()).leases;
      expect(last).toBe(1);
    });

    test("pools: expired leases free their slots; an emptied pool takes a new size", async () => {
      const s = await make();
      const a = await s.leasePool("p", 1, 80, undefined, "w_a");
      await Bun.sleep(160);
      expect(await s.releasePool("p", a.token, "w_a")).toEqual({ released: false });
      expect(await code(() => s.renewPool("p", a.token, 1000, "w_a"))).toBe("not_found");
      const b = await s.leasePool("p", 2, 1000, undefined, "w_b");
      expect(b.slot).toBe(0);
      expect(b.token).toBeGreaterThan(a.token);
    });

    test("releaseOwner ends one key's locks and leases, by name, and nothing else", async () => {
      const s = await make();
      await s.acquireLock("mine", 60_000, undefined, "w_gone");
      await s.acquireLock("theirs", 60_000, undefined, "w_stays");
      await s.leasePool("pool/a", 2, 60_000, "h", "w_gone");
      await s.leasePool("pool/a", 2, 60_000, "h", "w_stays");
      await s.claimKey("claimed/key", 60_000, "w_gone");
      const r = await s.releaseOwner("w_gone");
      expect(r).toEqual({ locks: ["mine"], pools: ["pool/a"], claims: ["claimed/key"] });
      expect(await s.releaseOwner("w_gone")).toEqual({ locks: [], pools: [], claims: [] });
      expect(await code(() => s.acquireLock("theirs", 1000))).toBe("conflict");
      expect((await s.acquireLock("mine", 1000, undefined, "w_new")).token).toBeGreaterThan(0);
      expect(await s.stats()).toMatchObject({ locks: 2, claims: 0, pools: 1, leases: 1, items: 3 });
    });
    test("kv: set-if-absent writes once; ttl() reads the remaining time without sliding; ttl_ms 0 is refused", async () => {
      const s = await make({ ttlRequired: false });
      const first = await s.set("once", json("first"), { ttlMs: 60_000, ifAbsent: true });
      expect(first.written).toBe(true);
      const offered = json("second");
      const again = await s.set("once", offered, { ttlMs: 5_000, ifAbsent: true });
      expect(again).toEqual({ written: false, expires_at: first.expires_at });
      expect(offered.every((x) => x === 0)).toBe(true); // refused bytes are zero-filled
      expect(fromUtf8((await s.get("once")).valueJson)).toBe('"first"');
      const t = await s.ttl("once");
      expect(t.expires_at).toBe(first.expires_at);
      expect(t.ttl_ms!).toBeGreaterThan(55_000);
      expect(t.ttl_ms!).toBeLessThanOrEqual(60_000);
      await s.set("forever", json(1));
      expect(await s.ttl("forever")).toEqual({ ttl_ms: null, expires_at: null });
      expect(await code(() => s.ttl("missing"))).toBe("not_found");
      expect(await code(() => s.set("zero", json(1), { ttlMs: 0 }))).toBe("invalid_ttl");
      expect(await code(() => s.set("flag", json(1), { ttlMs: 1000, ifAbsent: "yes" as any }))).toBe("invalid_request");
    });

    test("kv: a new key without ttl_ms gets the default TTL; a write without one keeps the expiry", async () => {
      const s = await make({ defaultTtlMs: 30_000 });
      const t0 = Date.now();
      const r = await s.set("d", json(1));
      expect(r.expires_at!).toBeGreaterThanOrEqual(t0 + 30_000 - 50);
      expect(r.expires_at!).toBeLessThanOrEqual(Date.now() + 30_000 + 50);
      expect((await s.set("d", json(2))).expires_at).toBe(r.expires_at);
      const n = await s.incr("n", 1);
      expect(n.value).toBe(1);
      expect((await s.ttl("n")).ttl_ms!).toBeGreaterThan(25_000);
    });

    test("kv: a sliding key's reads push its expiry out, never past last write + maxTtlMs; ttl() does not slide", async () => {
      const s = await make({ maxTtlMs: 1500 });
      const w = await s.set("slides", json(1), { ttlMs: 1000, slide: true });
      await s.set("fixed", json(1), { ttlMs: 300 });
      const cap = w.expires_at! + 500; // written at expires_at − 1000; slides up to write + 1500
      expect((await s.ttl("slides")).expires_at).toBe(w.expires_at); // ttl() is not a read
      await Bun.sleep(50);
      const g = await s.get("slides");
      expect(g.expires_at!).toBeGreaterThan(w.expires_at!);
      expect(g.expires_at!).toBeLessThanOrEqual(cap);
      await Bun.sleep(600); // now + 1000 is past the cap
      expect((await s.get("slides")).expires_at).toBe(cap);
      expect(await code(() => s.get("fixed"))).toBe("not_found"); // a key that does not slide ran out
      const d = await make({ slidingTtl: true });
      const e = await d.set("by-default", json(1), { ttlMs: 5_000 });
      await Bun.sleep(20);
      expect((await d.get("by-default")).expires_at!).toBeGreaterThan(e.expires_at!);
      const off = await d.set("opted-out", json(1), { ttlMs: 5_000, slide: false });
      await Bun.sleep(20);
      expect((await d.get("opted-out")).expires_at).toBe(off.expires_at);
    });

    test("claims: the live value, or one claim; renew, idempotent release; a written value ends the race", async () => {
      const s = await make();
      const c = await s.claimKey("cache/x", 60_000, "w_a");
      if (c.state !== "claimed") throw new Error("expected a claim");
      const busy = await error(() => s.claimKey("cache/x", 60_000, "w_b"));
      expect(busy.code).toBe("conflict");
      expect(busy.detail.expiresAt).toBe(c.expires_at);
      expect(await code(() => s.claimKey("cache/x", 60_000, "w_a"))).toBe("conflict"); // not re-entrant
      expect(await code(() => s.renewClaim("cache/x", c.token, 1000, "w_b"))).toBe("conflict");
      expect((await s.renewClaim("cache/x", c.token, 90_000, "w_a")).expires_at).toBeGreaterThan(c.expires_at);
      expect((await s.set("cache/x", json("made"), { ttlMs: 60_000, ifAbsent: true })).written).toBe(true);
      expect(await code(() => s.releaseClaim("cache/x", c.token, "w_b"))).toBe("conflict");
      expect(await s.releaseClaim("cache/x", c.token, "w_a")).toEqual({ released: true });
      expect(await s.releaseClaim("cache/x", c.token, "w_a")).toEqual({ released: false });
      const v = await s.claimKey("cache/x", 60_000, "w_b");
      expect(v.state).toBe("value");
      if (v.state === "value") expect(fromUtf8(v.valueJson)).toBe('"made"');
      expect(await code(() => s.claimKey("cache/y", undefined, "w_b"))).toBe("ttl_required");
      expect(await code(() => s.renewClaim("cache/y", c.token, 1000, "w_a"))).toBe("not_found");
      expect((await s.stats()).claims).toBe(0);
    });

    test("pools: renew keeps slot and token; one lease per holder across keys", async () => {
      const s = await make();
      const a = await s.leasePool("shards", 4, 1_000, "h1", "w_a");
      const r = await s.renewPool("shards", a.token, 60_000, "w_a");
      expect(r.expires_at).toBeGreaterThan(a.expires_at);
      expect(await code(() => s.renewPool("shards", a.token, 1000, "w_b"))).toBe("conflict");
      expect(await code(() => s.renewPool("shards", a.token + 99, 1000, "w_a"))).toBe("not_found");
      const o = await s.leasePool("ports", 4, 60_000, "runner-1", "w_a", { onePerHolder: true });
      const taken = await error(() => s.leasePool("ports", 4, 60_000, "runner-1", "w_b"));
      expect(taken.code).toBe("conflict");
      expect(taken.detail.expiresAt).toBe(o.expires_at);
      expect(await code(() => s.leasePool("ports", 4, 60_000, undefined, "w_b"))).toBe("invalid_request"); // holder required
      expect((await error(() => s.leasePool("ports", 4, 60_000, "runner-2", "w_b", { onePerHolder: false }))).detail.onePerHolder).toBe(true);
      expect((await error(() => s.leasePool("shards", 4, 60_000, "h2", "w_b", { onePerHolder: true }))).detail.onePerHolder).toBe(false);
      expect((await s.leasePool("ports", 4, 60_000, "runner-2", "w_b")).slot).toBe(1);
      expect(await s.leasePool("ports", 4, 60_000, "runner-1", "w_a")).toMatchObject({ slot: 0, token: o.token });
    });
  });
}
