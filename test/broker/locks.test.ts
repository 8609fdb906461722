import { describe, test, expect } from "bun:test";
import fc from "fast-check";
import { expectCode, makeStore, outcome, T0 } from "./_helpers.ts";
import { MemoryStore } from "../../src/broker/index.ts";

describe("locks: acquire / renew / release", () => {
  test("acquire returns a fencing token and expires_at; held -> conflict for anyone, holder too", () => {
    const { store } = makeStore();
    const a = store.acquireLock("deploy", 1000, "worker-1");
    expect(a.token).toBeGreaterThan(0);
    expect(a.expires_at).toBe(T0 + 1000);
    const e = expectCode(() => store.acquireLock("deploy", 1000, "worker-2"), "conflict");
    expect(e.detail).toEqual({ expiresAt: T0 + 1000 });
    expect(e.expiresAt).toBe(T0 + 1000);
    expectCode(() => store.acquireLock("deploy", 1000, "worker-1"), "conflict"); // not re-entrant
    expectCode(() => store.acquireLock("deploy", 1000), "conflict");
    expect(store.acquireLock("other", 1000).token).toBeGreaterThan(a.token); // names are independent
  });

  test("release frees it; the next token is higher", () => {
    const { store } = makeStore();
    const a = store.acquireLock("l", 1000);
    expect(store.releaseLock("l", a.token)).toEqual({ released: true });
    const b = store.acquireLock("l", 1000);
    expect(b.token).toBeGreaterThan(a.token);
    expect(store.releaseLock("l", a.token)).toEqual({ released: false }); // a stale token holds nothing
    expect(store.stats().locks).toBe(1);
  });

  test("expiry frees it: live at expires_at - 1, free at expires_at; old token is dead", () => {
    const { store, clock } = makeStore();
    const a = store.acquireLock("l", 100, "h1");
    clock.advance(99);
    expectCode(() => store.acquireLock("l", 100, "h2"), "conflict");
    clock.advance(1);
    expectCode(() => store.renewLock("l", a.token), "not_found");
    expect(store.releaseLock("l", a.token)).toEqual({ released: false });
    const b = store.acquireLock("l", 100, "h2");
    expect(b.token).toBeGreaterThan(a.token);
    expectCode(() => store.renewLock("l", a.token), "conflict");
    expect(store.releaseLock("l", a.token)).toEqual({ released: false });
    expect(store.stats().locks).toBe(1); // b is untouched
  });

  test("renew extends from now; without ttl_ms it reuses the acquire ttl", () => {
    const { store, clock } = makeStore();
    const a = store.acquireLock("l", 100);
    clock.advance(80);
    expect(store.renewLock("l", a.token)).toEqual({ expires_at: T0 + 180 });
    clock.advance(80);
    expect(store.renewLock("l", a.token, 500)).toEqual({ expires_at: T0 + 660 });
    clock.advance(400);
    expect(store.renewLock("l", a.token)).toEqual({ expires_at: T0 + 660 }); // acquire ttl (100)
    clock.advance(99);
    expectCode(() => store.acquireLock("l", 100), "conflict");
    clock.advance(1);
    store.acquireLock("l", 100);
  });

  test("renew of a lock nobody holds -> not_found; release is idempotent (released: false)", () => {
    const { store } = makeStore();
    expectCode(() => store.renewLock("l", 1), "not_found");
    expect(store.releaseLock("l", 1)).toEqual({ released: false });
    const a = store.acquireLock("l", 100);
    expect(store.releaseLock("l", a.token)).toEqual({ released: true });
    expect(store.releaseLock("l", a.token)).toEqual({ released: false });
  });

  test("wrong token: renew -> conflict, release -> released: false; the lock is unchanged", () => {
    const { store } = makeStore();
    const a = store.acquireLock("l", 100);
    expectCode(() => store.renewLock("l", a.token + 1, 5000), "conflict");
    expect(store.releaseLock("l", a.token + 1)).toEqual({ released: false });
    expect(store.renewLock("l", a.token, 100).expires_at).toBe(T0 + 100);
  });

  test("ttl is always required (even when KV ttlRequired is off) and validated", () => {
    for (const ttlRequired of [true, false]) {
      const { store } = makeStore({ ttlRequired });
      expectCode(() => store.acquireLock("l", undefined), "ttl_required");
      for (const bad of [0, -1, 2.5, NaN, 30 * 24 * 3600_000 + 1]) {
        expectCode(() => store.acquireLock("l", bad), "invalid_ttl");
      }
      const a = store.acquireLock("l", 30 * 24 * 3600_000);
      expectCode(() => store.renewLock("l", a.token, 0), "invalid_ttl");
      expectCode(() => store.renewLock("l", a.token, 30 * 24 * 3600_000 + 1), "invalid_ttl");
    }
  });

  test("names, holders and tokens are validated", () => {
    const { store } = makeStore();
    store.acquireLock("l".repeat(256), 100);
    const e = expectCode(() => store.acquireLock("l".repeat(257), 100), "too_large");
    expect(e.message).toBe("lock name is longer than 256 bytes");
    expectCode(() => store.acquireLock("é".repeat(129), 100), "too_large");
    expectCode(() => store.acquireLock("", 100), "invalid_request");
    expectCode(() => store.acquireLock("a\u0085", 100), "invalid_request");
    store.acquireLock("h1", 100, "x".repeat(256));
    store.acquireLock("h2", 100, "😀".repeat(256));
    for (const bad of ["", "x".repeat(257), "a\nb", "\u009f", 7 as unknown as string]) {
      expectCode(() => store.acquireLock("h3", 100, bad), "invalid_request");
    }
    for (const bad of [0, -1, 1.5, NaN, "1" as unknown as number]) {
      expectCode(() => store.renewLock("h1", bad), "invalid_request");
      expectCode(() => store.releaseLock("h1", bad), "invalid_request");
    }
    expect(store.stats().locks).toBe(3);
  });

  test("sweep removes expired locks; tokens keep increasing after sweep and wipe", () => {
    const { store, clock } = makeStore();
    const a = store.acquireLock("a", 10);
    store.acquireLock("b", 20);
    clock.advance(10);
    expect(store.sweep()).toBe(1);
    expect(store.stats().locks).toBe(1);
    const c = store.acquireLock("a", 10);
    store.wipe();
    expect(store.stats().locks).toBe(0);
    const d = store.acquireLock("a", 10);
    expect(c.token).toBeGreaterThan(a.token);
    expect(d.token).toBeGreaterThan(c.token);
  });
});

type Belief = { token: number; exp: number; ttl: number };

describe("locks: property — exclusivity and fencing under many holders", () => {
  const HOLDERS = 8;
  const NAMES = ["a", "b", "__proto__"];
  const holder = fc.nat(HOLDERS - 1);
  const name = fc.nat(NAMES.length - 1);
  const ttl = fc.integer({ min: 1, max: 60 });
  /** `stale`: use an older token this holder once had (or a never-issued one) instead of its current one. */
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.record({ t: fc.constant("acquire" as const), h: holder, n: name, ttl }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant("renew" as const),
        h: holder,
        n: name,
        ttl: fc.option(ttl, { nil: undefined }),
        stale: fc.boolean(),
      }),
    },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("release" as const), h: holder, n: name, stale: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 40 }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("sweep" as const) }) },
  );

  test("no two holders ever hold one lock; tokens per name strictly increase and are never reused", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
        const { store, clock } = makeStore();
        // What each holder believes from the store's answers alone: key `${h}/${n}`.
        const beliefs = new Map<string, Belief>();
        const everHad = new Map<string, number[]>();
        const issued = new Map<string, number[]>();
        const allTokens = new Set<number>();
        const liveHolders = (n: number) =>
          [...Array(HOLDERS).keys()].filter((h) => {
            const b = beliefs.get(`${h}/${n}`);
            return b !== undefined && b.exp > clock.t;
          });

        for (const o of ops) {
          if (o.t === "advance") {
            clock.advance(o.ms);
          } else if (o.t === "sweep") {
            store.sweep();
          } else if (o.t === "acquire") {
            const nm = NAMES[o.n];
            const expectFree = liveHolders(o.n).length === 0;
            let r: { token: number; expires_at: number } | undefined;
            const got = outcome(() => (r = store.acquireLock(nm, o.ttl, `h${o.h}`)));
            expect(got).toBe(expectFree ? "ok" : "conflict");
            if (r) {
              expect(r.expires_at).toBe(clock.t + o.ttl);
              const prev = issued.get(nm) ?? [];
              if (prev.length > 0) expect(r.token).toBeGreaterThan(prev[prev.length - 1]);
              expect(allTokens.has(r.token)).toBe(false);
              allTokens.add(r.token);
              issued.set(nm, [...prev, r.token]);
              beliefs.set(`${o.h}/${o.n}`, { token: r.token, exp: r.expires_at, ttl: o.ttl });
              everHad.set(`${o.h}/${o.n}`, [...(everHad.get(`${o.h}/${o.n}`) ?? []), r.token]);
            }
          } else {
            const nm = NAMES[o.n];
            const key = `${o.h}/${o.n}`;
            const mine = beliefs.get(key);
            const old = everHad.get(key) ?? [];
            const token = o.stale || !mine ? (old.length > 1 ? old[0] : (mine?.token ?? 0) + 1000) : mine.token;
            const live = liveHolders(o.n);
            const current = live.length === 1 ? beliefs.get(`${live[0]}/${o.n}`)! : undefined;
            const expected = current === undefined ? "not_found" : current.token === token ? "ok" : "conflict";
            if (o.t === "renew") {
              let r: { expires_at: number } | undefined;
              expect(outcome(() => (r = store.renewLock(nm, token, o.ttl)))).toBe(expected);
              if (r) {
                expect(r.expires_at).toBe(clock.t + (o.ttl ?? current!.ttl));
                current!.exp = r.expires_at;
              }
            } else {
              // Release is idempotent: only the holding token releases; anything else is released: false.
              let r: { released: boolean } | undefined;
              expect(outcome(() => (r = store.releaseLock(nm, token)))).toBe("ok");
              expect(r!.released).toBe(expected === "ok");
              if (expected === "ok") beliefs.delete(`${live[0]}/${o.n}`);
            }
          }
          // Safety: at no instant do two holders both believe (from the store's answers) they hold a lock.
          for (let n = 0; n < NAMES.length; n++) expect(liveHolders(n).length).toBeLessThanOrEqual(1);
          const held = NAMES.filter((_, n) => liveHolders(n).length === 1).length;
          expect(store.stats().locks).toBe(held);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("token base", () => {
  test("tokens start above tokenBase, so a restarted daemon never hands out a smaller fencing token", () => {
    const base = 1_795_000_000_000_000;
    const s = new MemoryStore({ now: () => 1000, tokenBase: base });
    const a = s.acquireLock("x", 1000);
    expect(a.token).toBeGreaterThan(base);
    expect(s.leasePool("p", 2, 1000).token).toBeGreaterThan(a.token);
    expect(() => new MemoryStore({ now: () => 0, tokenBase: -1 })).toThrow();
  });
});
