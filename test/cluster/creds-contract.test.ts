/**
 * The credential-checkout contract (src/broker/cred-share.ts `CredCheckouts`),
 * one suite run against both implementations: one daemon's `CredentialStore`
 * (leases in memory), and `SharedCredCheckouts` over `RedisCredLeases` on a
 * real redis-server, as two daemons (two stores holding the same values, two
 * connections, one prefix). In memory both "daemons" are the one store.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes, toB64u, utf8 } from "../../src/crypto/index.ts";
import { CredentialStore, SharedCredCheckouts, type CredCheckouts } from "../../src/broker/index.ts";
import { openRedisBackend, parseBackendUrl, type RedisBackend } from "../../src/cluster/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { codeOfCall } from "./_cluster.ts";

let redis: TestRedis | undefined;
const opened: RedisBackend[] = [];

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const b of opened) await b.store.close();
  await redis?.stop();
});

interface View {
  store: CredentialStore;
  co: CredCheckouts;
}

const LIMITS = { maxKeyBytes: 256, maxValueBytes: 1024, maxLeasesPerWorker: 3 };

function load(s: CredentialStore): void {
  s.put("ACCT", [utf8("one"), utf8("two")], { mode: "exclusive", allow: ["ci"] });
  s.put("API", [utf8("api")], { allow: ["ci"] });
}

/** Two daemons' views of one cluster. */
const BACKENDS: [string, () => Promise<[View, View]>][] = [
  ["memory", async () => {
    const store = new CredentialStore(() => Date.now(), LIMITS);
    load(store);
    const v = { store, co: store };
    return [v, v];
  }],
  ["redis", async () => {
    const prefix = `hush:${toB64u(randomBytes(6))}:`;
    const views: View[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await openRedisBackend({ target: parseBackendUrl(redis!.url), password: redis!.password, clusterKey: new Uint8Array(32).fill(9), prefix, timeoutMs: 2000, windowMs: 60_000, perKey: 1000 });
      opened.push(b);
      const store = new CredentialStore(() => Date.now(), LIMITS);
      load(store);
      views.push({ store, co: new SharedCredCheckouts(store, b.credLeases) });
    }
    return [views[0], views[1]];
  }],
];

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const inUse = async (v: View, name: string) => (await v.co.listInUse()).find((i) => i.name === name)!.in_use;

for (const [kind, make] of BACKENDS) {
  const skip = kind === "redis" && REDIS_MISSING !== null;
  if (skip) console.warn(`creds contract (redis): skipped: ${REDIS_MISSING}`);
  describe.skipIf(skip)(`credential checkout contract: ${kind}`, () => {
    test("exclusive: each value to one lease; conflict on both daemons until one is returned (through the other)", async () => {
      const [a, b] = await make();
      const x = await a.co.checkout("ACCT", "w1", ["ci"]);
      const y = await a.co.checkout("ACCT", "w1", ["ci"]);
      expect(new Set([text(x.value), text(y.value)])).toEqual(new Set(["one", "two"]));
      expect(x.mode).toBe("exclusive");
      expect(await codeOfCall(() => b.co.checkout("ACCT", "w2", ["ci"]))).toBe("conflict");
      expect(await codeOfCall(() => a.co.checkout("ACCT", "w2", ["ci"]))).toBe("conflict");
      expect(await inUse(b, "ACCT")).toBe(2);
      expect(await b.co.checkGiveBack(x.leaseId, "w1")).toBe("ACCT");
      expect(await b.co.giveBack(x.leaseId, "w1")).toEqual({ returned: true, cred: "ACCT" });
      const z = await b.co.checkout("ACCT", "w2", ["ci"]);
      expect(text(z.value)).toBe(text(x.value));
      expect(await inUse(a, "ACCT")).toBe(2);
    });

    test("return: only the holder; a lease returned or unknown is not_found", async () => {
      const [a, b] = await make();
      const x = await a.co.checkout("API", "w1", ["ci"]);
      expect(await codeOfCall(() => b.co.giveBack(x.leaseId, "w2"))).toBe("forbidden");
      expect(await codeOfCall(() => b.co.checkGiveBack(x.leaseId, "w2"))).toBe("forbidden");
      await b.co.giveBack(x.leaseId, "w1");
      expect(await codeOfCall(() => a.co.giveBack(x.leaseId, "w1"))).toBe("not_found");
      expect(await codeOfCall(() => a.co.checkGiveBack("l_nosuchlease", "w1"))).toBe("not_found");
    });

    test("policy and input are checked before any lease: not_found, forbidden, invalid_ttl", async () => {
      const [a] = await make();
      expect(await codeOfCall(() => a.co.checkout("NOPE", "w1", ["ci"]))).toBe("not_found");
      expect(await codeOfCall(() => a.co.checkout("API", "w1", ["other"]))).toBe("forbidden");
      expect(await codeOfCall(() => a.co.checkout("API", "w1", ["ci"], 0))).toBe("invalid_ttl");
      expect(await inUse(a, "API")).toBe(0);
    });

    test("the per-worker cap counts the worker's leases on every daemon; another worker is not limited", async () => {
      const [a, b] = await make();
      const held = [await a.co.checkout("API", "w1", ["ci"]), await b.co.checkout("API", "w1", ["ci"]), await a.co.checkout("ACCT", "w1", ["ci"])];
      expect(await codeOfCall(() => b.co.checkout("API", "w1", ["ci"]))).toBe("max_items");
      expect(await codeOfCall(() => a.co.checkout("API", "w2", ["ci"]))).toBe("ok");
      await a.co.giveBack(held[1].leaseId, "w1");
      expect(await codeOfCall(() => b.co.checkout("API", "w1", ["ci"]))).toBe("ok");
      expect(b.store.refusals.counts.get("leases_per_worker")).toBe(1);
    });

    test("a holder's end (revocation) ends its leases on every daemon and names them", async () => {
      const [a, b] = await make();
      const x = await a.co.checkout("ACCT", "w1", ["ci"]);
      await b.co.checkout("ACCT", "w1", ["ci"]);
      const ended = await b.co.endHolder("w1");
      expect(ended.map((e) => e.cred).sort()).toEqual(["ACCT", "ACCT"]);
      expect(ended.map((e) => e.leaseId)).toContain(x.leaseId);
      expect(await codeOfCall(() => a.co.giveBack(x.leaseId, "w1"))).toBe("not_found");
      expect(await codeOfCall(() => a.co.checkout("ACCT", "w2", ["ci"]))).toBe("ok");
      expect(await b.co.endHolder("nobody")).toEqual([]);
    });

    test("an expired lease frees its value and cannot be returned", async () => {
      const [a, b] = await make();
      const x = await a.co.checkout("ACCT", "w1", ["ci"], 250);
      await a.co.checkout("ACCT", "w1", ["ci"], 250);
      expect(x.expiresAt).toBeGreaterThan(Date.now() - 1000);
      expect(await codeOfCall(() => b.co.checkout("ACCT", "w2", ["ci"]))).toBe("conflict");
      await Bun.sleep(400);
      expect(await codeOfCall(() => b.co.giveBack(x.leaseId, "w1"))).toBe("not_found");
      expect(await codeOfCall(() => b.co.checkout("ACCT", "w2", ["ci"]))).toBe("ok");
    });

    test("replacing a credential ends its leases", async () => {
      const [a] = await make();
      const x = await a.co.checkout("ACCT", "w1", ["ci"]);
      await a.co.checkout("ACCT", "w1", ["ci"]);
      a.store.put("ACCT", [utf8("three"), utf8("four")], { mode: "exclusive" });
      expect(await codeOfCall(() => a.co.giveBack(x.leaseId, "w1"))).toBe("not_found");
      expect(["three", "four"]).toContain(text((await a.co.checkout("ACCT", "w2", ["ci"])).value));
    });
  });
}
