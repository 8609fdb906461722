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
    expect(store.stats()).toMatchObject({ pools: 1, leases: 3, items: 1 });
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
    expectCode(() => store.releasePool("p", a.token), "not_found");
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

  test("release: unknown, repeated, expired or other-pool token -> not_found", () => {
    const { store, clock } = makeStore();
    expectCode(() => store.releasePool("p", 1), "not_found");
    const a = store.leasePool("p", 2, 10);
    const other = store.leasePool("q", 2, 1000);
    expectCode(() => store.releasePool("p", other.token), "not_found");
    expectCode(() => store.releasePool("p", a.token + 100), "not_found");
    store.releasePool("p", a.token);
    expectCode(() => store.releasePool("p", a.token), "not_found");
    const b = store.leasePool("p", 2, 10);
    clock.advance(10);
    expectCode(() => store.releasePool("p", b.token), "not_found");
    expect(store.stats()).toMatchObject({ pools: 1, leases: 1 });
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
      expect(e.message).toBe("size must be an integer from 1 to 1024");
    }
    expect(store.leasePool("big", 1024, 100).slot).toBe(0);
    expectCode(() => store.leasePool("p", 2, undefined), "ttl_required");
    expectCode(() => makeStore({ ttlRequired: false }).store.leasePool("p", 2, undefined), "ttl_required");
    for (const bad of [0, -5, 1.5, 30 * 24 * 3600_000 + 1]) expectCode(() => store.leasePool("p", 2, bad), "invalid_ttl");
    expectCode(() => store.leasePool("p".repeat(257), 2, 100), "too_large");
    expectCode(() => store.leasePool("p\u0000", 2, 100), "invalid_request");
    expectCode(() => store.leasePool("p", 2, 100, ""), "invalid_request");
    expectCode(() => store.leasePool("p", 2, 100, "h".repeat(257)), "invalid_request");
    expectCode(() => store.releasePool("p", 0), "invalid_request");
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

  test("a full pool of maxPoolSize slots", () => {
    const { store } = makeStore();
    for (let i = 0; i < 1024; i++) expect(store.leasePool("p", 1024, 100, `h${i}`).slot).toBe(i);
    expectCode(() => store.leasePool("p", 1024, 100, "extra"), "conflict");
    expect(store.leasePool("p", 1024, 100, "h777").slot).toBe(777);
    expect(store.stats()).toMatchObject({ items: 1, leases: 1024 });
  });
});

type Held = { pool: number; slot: number; token: number; exp: number; holder: string | undefined };

describe("pools: property — no slot ever has two live holders", () => {
  const POOLS = ["p", "constructor"];
  const HOLDERS = 6;
  const op = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        t: fc.constant("lease" as const),
        p: fc.nat(POOLS.length - 1),
        size: fc.constantFrom(2, 3, 3, 3),
        ttl: fc.integer({ min: 1, max: 60 }),
        h: fc.option(fc.nat(HOLDERS - 1), { nil: undefined }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ t: fc.constant("release" as const), p: fc.nat(POOLS.length - 1), pick: fc.nat() }),
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
            expect(outcome(() => store.releasePool(POOLS[o.p], token))).toBe(ok ? "ok" : "not_found");
            if (ok) held.delete(token);
          }
          for (let p = 0; p < POOLS.length; p++) {
            const slots = live(p).map((l) => l.slot);
            expect(new Set(slots).size).toBe(slots.length);
            if (slots.length > 0) expect(Math.max(...slots)).toBeLessThan(sizes.get(p)!);
          }
          const livePools = POOLS.filter((_, p) => live(p).length > 0).length;
          const leases = POOLS.reduce((n, _, p) => n + live(p).length, 0);
          expect(store.stats()).toMatchObject({ pools: livePools, leases });
        }
      }),
      { numRuns: 300 },
    );
  });
});
