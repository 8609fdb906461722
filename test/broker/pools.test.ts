import { describe, test, expect } from "bun:test";
import fc from "fast-check";
import { DEFAULT_LIMITS } from "../../src/broker/index.ts";
import { expectCode, makeStore, outcome, T0 } from "./_helpers.ts";

describe("pools: slot semantics", () => {
  test("leases hand out the smallest free slot with fresh tokens; conflict when exhausted", () => {
    const { store } = makeStore();
    const a = store.leasePool("db", 3, 1000, "w1");
    const b = store.leasePool("db", 3, 1000, "w2");
    const c = store.leasePool("db", 3, 1000);
    expect([a.slot, b.slot, c.slot]).toEqual([0, 1, 2]);
    expect(a.expires_at).toBe(T0 + 1000);
    expect(b.token).toBeGreaterThan(a.token);
    expect(c.token).toBeGreaterThan(b.token);
    const e = expectCode(() => store.leasePool("db", 3, 1000, "w4"), "conflict");
    expect(e.message).toBe("pool is exhausted");
    expect(e.detail).toEqual({ size: 3, expiresAt: T0 + 1000 });
    expect(store.stats()).toMatchObject({ pools: 1, leases: 3, items: 3 }); // every lease is an item
  });

  test("release frees the slot; the next lease takes the smallest free one", () => {
    const { store } = makeStore();
    const leases = [0, 1, 2, 3].map(() => store.leasePool("p", 4, 1000));
    expect(store.releasePool("p", leases[1].token)).toEqual({ released: true });
    expect(store.releasePool("p", leases[2].token)).toEqual({ released: true });
    const n1 = store.leasePool("p", 4, 1000);
    expect(n1.slot).toBe(1);
    expect(n1.token).toBeGreaterThan(leases[3].token);
    expect(store.leasePool("p", 4, 1000).slot).toBe(2);
    expectCode(() => store.leasePool("p", 4, 1000), "conflict");
    store.releasePool("p", leases[3].token); // highest slot
    expect(store.leasePool("p", 4, 1000).slot).toBe(3);
  });

  test("the same holder gets its same slot and token back, renewed", () => {
    const { store, clock } = makeStore();
    store.leasePool("p", 2, 100, "w0");
    const a = store.leasePool("p", 2, 100, "w1");
    clock.advance(90);
    const again = store.leasePool("p", 2, 200, "w1");
    expect(again).toEqual({ slot: a.slot, token: a.token, expires_at: T0 + 290 });
    expect(store.stats().leases).toBe(2);
    clock.advance(10); // w0 expires, w1 renewed lives on
    expect(store.leasePool("p", 2, 100, "w2").slot).toBe(0);
    expectCode(() => store.leasePool("p", 2, 100, "w3"), "conflict");
    expect(store.leasePool("p", 2, 100, "w1").slot).toBe(1); // even when the pool is full
  });

  test("expired leases are recycled; their tokens are dead", () => {
    const { store, clock } = makeStore();
    const a = store.leasePool("p", 1, 100, "w1");
    clock.advance(99);
    expectCode(() => store.leasePool("p", 1, 100, "w2"), "conflict");
    clock.advance(1);
    const b = store.leasePool("p", 1, 100, "w2");
    expect(b.slot).toBe(0);
    expect(b.token).toBeGreaterThan(a.token);
    expect(store.releasePool("p", a.token)).toEqual({ released: false });
    expectCode(() => store.leasePool("p", 1, 100, "w1"), "conflict"); // w1 lost its slot to w2
  });

  test("a holder whose lease expired gets a fresh token", () => {
    const { store, clock } = makeStore();
    const a = store.leasePool("p", 3, 10, "w1");
    clock.advance(10);
    const b = store.leasePool("p", 3, 10, "w1");
    expect(b.slot).toBe(0);
    expect(b.token).toBeGreaterThan(a.token);
  });

  test("release is idempotent: unknown, repeated, expired or other-pool token -> released: false", () => {
    const { store, clock } = makeStore();
    const no = { released: false };
    expect(store.releasePool("p", 1)).toEqual(no);
    const a = store.leasePool("p", 2, 10);
    const other = store.leasePool("q", 2, 1000);
    expect(store.releasePool("p", other.token)).toEqual(no);
    expect(store.releasePool("p", a.token + 100)).toEqual(no);
    expect(store.releasePool("p", a.token)).toEqual({ released: true });
    expect(store.releasePool("p", a.token)).toEqual(no);
    const b = store.leasePool("p", 2, 10);
    clock.advance(10);
    expect(store.releasePool("p", b.token)).toEqual(no);
    expect(store.stats()).toMatchObject({ pools: 1, leases: 1 });
  });

  test("renew: now + ttl (default: the lease's TTL); a dead token -> not_found", () => {
    const { store, clock } = makeStore();
    const a = store.leasePool("p", 2, 100, "w1");
    clock.advance(60);
    expect(store.renewPool("p", a.token)).toEqual({ expires_at: T0 + 160 });
    clock.advance(60);
    expect(store.renewPool("p", a.token, 500)).toEqual({ expires_at: T0 + 620 });
    clock.advance(400);
    expect(store.renewPool("p", a.token)).toEqual({ expires_at: T0 + 1020 }); // the TTL of the last renew
    expect(store.leasePool("p", 2, 100, "w1")).toEqual({ slot: 0, token: a.token, expires_at: T0 + 620 });
    expectCode(() => store.renewPool("q", a.token), "not_found");
    expectCode(() => store.renewPool("p", a.token + 1), "not_found");
    clock.advance(100);
    expectCode(() => store.renewPool("p", a.token), "not_found");
    expectCode(() => store.renewPool("p", a.token, 0), "invalid_ttl");
    expect(store.stats().leases).toBe(0);
  });

  test("size is fixed while the pool has live leases; free once they are gone", () => {
    const { store, clock } = makeStore();
    const a = store.leasePool("p", 2, 10);
    const e = expectCode(() => store.leasePool("p", 3, 10), "conflict");
    expect(e.detail).toEqual({ size: 2 });
    store.releasePool("p", a.token);
    store.leasePool("p", 3, 10);
    clock.advance(10);
    expect(store.leasePool("p", 1, 10).slot).toBe(0);
  });

  test("size, ttl, name and holder are validated", () => {
    const { store } = makeStore();
    for (const bad of [0, -1, 1.5, NaN, DEFAULT_LIMITS.maxPoolSize + 1, "2" as unknown as number]) {
      const e = expectCode(() => store.leasePool("p", bad, 100), "invalid_request");
      expect(e.message).toBe("size must be an integer from 1 to 65536");
    }
    expect(store.leasePool("big", 65_536, 100).slot).toBe(0);
    expectCode(() => store.leasePool("p", 2, undefined), "ttl_required");
    expectCode(() => makeStore({ ttlRequired: false }).store.leasePool("p", 2, undefined), "ttl_required");
    for (const bad of [0, -5, 1.5, 30 * 24 * 3600_000 + 1]) expectCode(() => store.leasePool("p", 2, bad), "invalid_ttl");
    expectCode(() => store.leasePool("p".repeat(257), 2, 100), "too_large");
    expectCode(() => store.leasePool("p\u0000", 2, 100), "invalid_request");
    expectCode(() => store.leasePool("p", 2, 100, ""), "invalid_request");
    expectCode(() => store.leasePool("p", 2, 100, "h".repeat(257)), "invalid_request");
    expectCode(() => store.releasePool("p", 0), "invalid_request");
    expectCode(() => store.leasePool("p", 2, 100, "h", undefined, { onePerHolder: "yes" as unknown as boolean }), "invalid_request");
    expect(makeStore({ maxPoolSize: 4 }).store.leasePool("p", 4, 100).slot).toBe(0);
    expectCode(() => makeStore({ maxPoolSize: 4 }).store.leasePool("p", 5, 100), "invalid_request");
    expect(store.stats().pools).toBe(1);
  });

  test("sweep removes expired leases and emptied pools", () => {
    const { store, clock } = makeStore();
    store.leasePool("p", 3, 10);
    store.leasePool("p", 3, 20);
    store.leasePool("q", 3, 10);
    clock.advance(10);
    expect(store.sweep()).toBe(2);
    expect(store.stats()).toMatchObject({ pools: 1, leases: 1 });
    expect(store.leasePool("p", 3, 10).slot).toBe(0);
  });

  test("a full pool of maxPoolSize slots: live leases are items, bounded by maxItems", () => {
    const { store } = makeStore({ maxPoolSize: 2048, maxItems: 4096 });
    for (let i = 0; i < 2048; i++) expect(store.leasePool("p", 2048, 100, `h${i}`).slot).toBe(i);
    expectCode(() => store.leasePool("p", 2048, 100, "extra"), "conflict");
    expect(store.leasePool("p", 2048, 100, "h777").slot).toBe(777);
    expect(store.stats()).toMatchObject({ items: 2048, leases: 2048 });
    const full = makeStore({ maxItems: 3 }).store;
    for (let i = 0; i < 3; i++) full.leasePool("big", 65_536, 100);
    const e = expectCode(() => full.leasePool("big", 65_536, 100), "max_items");
    expect(e.detail).toMatchObject({ limit: "items" });
    expect(full.stats()).toMatchObject({ items: 3, leases: 3 });
  });

  test("the smallest free slot, through holes, expiries and a shrinking top", () => {
    const { store, clock } = makeStore();
    const t = [0, 1, 2, 3, 4, 5].map(() => store.leasePool("p", 100, 1000).token);
    store.releasePool("p", t[4]);
    store.releasePool("p", t[1]);
    store.releasePool("p", t[5]); // the top: 5 and the hole at 4 go, the highest in use is 3
    store.releasePool("p", t[3]);
    expect([0, 1, 2, 3].map(() => store.leasePool("p", 100, 10).slot)).toEqual([1, 3, 4, 5]);
    clock.advance(10); // 1, 3, 4, 5 expire
    expect(store.leasePool("p", 100, 1000).slot).toBe(1);
    expect(store.leasePool("p", 100, 1000).slot).toBe(3);
    expect(store.stats().leases).toBe(4);
  });
});

describe("pools: one lease per holder (opt-in)", () => {
  test("fixed by the first lease; a holder is required; the same key gets its slot back, another key conflict", () => {
    const { store, clock } = makeStore();
    const a = store.leasePool("db", 4, 1000, "worker-1", "w_a", { onePerHolder: true });
    expect(store.leasePool("db", 4, 500, "worker-1", "w_a")).toEqual({ slot: a.slot, token: a.token, expires_at: T0 + 500 });
    const e = expectCode(() => store.leasePool("db", 4, 1000, "worker-1", "w_b"), "conflict");
    expect(e.message).toBe("another key holds a slot under this holder name");
    expect(e.expiresAt).toBe(T0 + 500);
    expect(expectCode(() => store.leasePool("db", 4, 1000, undefined, "w_b"), "invalid_request").message).toBe("holder is required in a one-per-holder pool");
    expect(expectCode(() => store.leasePool("db", 4, 1000, "worker-2", "w_b", { onePerHolder: false }), "conflict").detail).toEqual({ onePerHolder: true });
    expect(store.leasePool("db", 4, 1000, "worker-2", "w_b").slot).toBe(1);
    expect(store.stats()).toMatchObject({ leases: 2 });
    clock.advance(500); // worker-1's lease ends: its name is free for another key
    expect(store.leasePool("db", 4, 1000, "worker-1", "w_b").slot).toBe(0);
  });

  test("without it (the default) the same holder string from two keys gets two slots, and the setting is fixed too", () => {
    const { store } = makeStore();
    store.leasePool("p", 4, 1000, "h", "w_a");
    expect(store.leasePool("p", 4, 1000, "h", "w_b").slot).toBe(1);
    expect(store.leasePool("p", 4, 1000, undefined, "w_b").slot).toBe(2);
    expectCode(() => store.leasePool("p", 4, 1000, "h", "w_c", { onePerHolder: true }), "conflict");
    expectCode(() => store.leasePool("q", 4, 1000, undefined, "w_a", { onePerHolder: true }), "invalid_request");
    expect(store.stats()).toMatchObject({ pools: 1, leases: 3 });
  });
});

describe("pools: property — large pools against an array model", () => {
  test("the smallest free slot after any mix of leases, releases, renewals and expiries", () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant("lease" as const), ttl: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ t: fc.constant("release" as const), pick: fc.nat() }),
      fc.record({ t: fc.constant("renew" as const), pick: fc.nat(), ttl: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 200 }), (size, ops) => {
        const { store, clock } = makeStore();
        const model: ({ token: number; exp: number } | undefined)[] = Array(size).fill(undefined);
        const alive = () => model.map((l, i) => (l && l.exp > clock.t ? i : -1)).filter((i) => i >= 0);
        for (const o of ops) {
          for (let i = 0; i < size; i++) if (model[i] && model[i]!.exp <= clock.t) model[i] = undefined;
          if (o.t === "advance") clock.advance(o.ms);
          else if (o.t === "lease") {
            const free = model.findIndex((l) => l === undefined);
            if (free < 0) expectCode(() => store.leasePool("p", size, o.ttl), "conflict");
            else {
              const r = store.leasePool("p", size, o.ttl);
              expect(r.slot).toBe(free);
              model[free] = { token: r.token, exp: r.expires_at };
            }
          } else {
            const live = alive();
            if (live.length === 0) continue;
            const slot = live[o.pick % live.length];
            if (o.t === "release") {
              expect(store.releasePool("p", model[slot]!.token)).toEqual({ released: true });
              model[slot] = undefined;
            } else model[slot]!.exp = store.renewPool("p", model[slot]!.token, o.ttl).expires_at;
          }
          expect(store.stats().leases).toBe(alive().length); // stats() sweeps first
        }
      }),
      { numRuns: 300 },
    );
  });
});

type Held = { pool: number; slot: number; token: number; exp: number; holder: string | undefined };

describe("pools: property — no slot ever has two live holders", () => {
  const POOLS = ["p", "constructor"];
  const HOLDERS = 8;
  const op = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        t: fc.constant("lease" as const),
        p: fc.nat(POOLS.length - 1),
        size: fc.constantFrom(2, 3, 5, 5),
        ttl: fc.integer({ min: 1, max: 60 }),
        h: fc.option(fc.nat(HOLDERS - 1), { nil: undefined }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constantFrom("release" as const, "renew" as const), p: fc.nat(POOLS.length - 1), pick: fc.nat(), ttl: fc.integer({ min: 1, max: 60 }) }),
    },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("sweep" as const) }) },
  );

  test("store answers match the model; live leases never share a slot; tokens never reused", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
        const { store, clock } = makeStore();
        // Leases as their holders know them from the store's answers, keyed by token.
        const held = new Map<number, Held>();
        const seen: number[] = [];
        const sizes = new Map<number, number>();
        const live = (p: number) => [...held.values()].filter((l) => l.pool === p && l.exp > clock.t);

        for (const o of ops) {
          if (o.t === "advance") clock.advance(o.ms);
          else if (o.t === "sweep") store.sweep();
          else if (o.t === "lease") {
            const holder = o.h === undefined ? undefined : `w${o.h}`;
            const ls = live(o.p);
            if (ls.length === 0) sizes.set(o.p, o.size);
            const size = sizes.get(o.p)!;
            const mine = holder === undefined ? undefined : ls.find((l) => l.holder === holder);
            const taken = new Set(ls.map((l) => l.slot));
            let free = 0;
            while (taken.has(free)) free++;
            const expected = size !== o.size ? "conflict" : mine ? "same" : free < size ? "new" : "conflict";
            let r: { slot: number; token: number; expires_at: number } | undefined;
            const got = outcome(() => (r = store.leasePool(POOLS[o.p], o.size, o.ttl, holder)));
            expect(got).toBe(expected === "conflict" ? "conflict" : "ok");
            if (!r) continue;
            expect(r.expires_at).toBe(clock.t + o.ttl);
            if (mine) {
              expect(r.slot).toBe(mine.slot);
              expect(r.token).toBe(mine.token);
              mine.exp = r.expires_at;
            } else {
              expect(r.slot).toBe(free);
              if (seen.length > 0) expect(r.token).toBeGreaterThan(seen[seen.length - 1]);
              expect(held.has(r.token)).toBe(false);
              seen.push(r.token);
              held.set(r.token, { pool: o.p, slot: r.slot, token: r.token, exp: r.expires_at, holder });
            }
          } else {
            // Pick any token ever issued (live, expired, released, other pool) or a never-issued one.
            const token = seen.length > 0 && o.pick % 5 !== 0 ? seen[o.pick % seen.length] : 10_000 + o.pick;
            const l = held.get(token);
            const ok = l !== undefined && l.pool === o.p && l.exp > clock.t;
            if (o.t === "release") {
              expect(store.releasePool(POOLS[o.p], token)).toEqual({ released: ok });
              if (ok) held.delete(token);
            } else {
              let r: { expires_at: number } | undefined;
              expect(outcome(() => (r = store.renewPool(POOLS[o.p], token, o.ttl)))).toBe(ok ? "ok" : "not_found");
              if (r) l!.exp = r.expires_at;
              if (r) expect(r.expires_at).toBe(clock.t + o.ttl);
            }
          }
          for (let p = 0; p < POOLS.length; p++) {
            const slots = live(p).map((l) => l.slot);
            expect(new Set(slots).size).toBe(slots.length);
            if (slots.length > 0) expect(Math.max(...slots)).toBeLessThan(sizes.get(p)!);
          }
          const livePools = POOLS.filter((_, p) => live(p).length > 0).length;
          const leases = POOLS.reduce((n, _, p) => n + live(p).length, 0);
          expect(store.stats()).toMatchObject({ pools: livePools, leases, items: leases });
        }
      }),
      { numRuns: 300 },
    );
  });
});
