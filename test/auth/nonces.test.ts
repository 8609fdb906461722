/** NonceCache: replay semantics, bounds, and constant cost once entries expire (proposed test/auth/nonces.test.ts). */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FingerprintTable, GENERATION_MS, NonceCache } from "../../src/auth/nonces.ts";

const K = "w_AAAAAAAAAAAAAAAA";
const nonce = (i: number) => i.toString(36).padStart(21, "0") + "A";

describe("NonceCache", () => {
  test("a replay inside the window is refused; after it, the nonce is forgotten", () => {
    const c = new NonceCache(100, 1000);
    expect(c.remember(K, nonce(1), 0, 0)).toBe("ok");
    expect(c.remember(K, nonce(1), 0, 999)).toBe("replay");
    expect(c.remember(K, nonce(1), 0, 1000)).toBe("replay");
    expect(c.remember("w_BBBBBBBBBBBBBBBB", nonce(1), 0, 10)).toBe("ok");
    // Past ts + window the nonce is forgotten; its count is given back once its second has passed.
    expect(c.remember(K, nonce(1), 1001, 1001)).toBe("ok");
    expect(c.remember(K, nonce(1), 1001, 1500)).toBe("replay");
    expect(c.size).toBe(3); // the two entries of time 0 still count until the end of their second
    expect(c.remember(K, nonce(2), 2000, 2000)).toBe("ok");
    expect(c.size).toBe(2); // nonce(1) of 1001 and nonce(2); both entries of time 0 are gone
  });

  test("a future timestamp keeps its nonce until ts + window, even behind older entries", () => {
    const c = new NonceCache(100, 1000);
    expect(c.remember(K, nonce(1), 900, 0)).toBe("ok"); // expires at 1900
    expect(c.remember(K, nonce(2), 0, 0)).toBe("ok"); // expires at 1000
    c.purgeAll(1500);
    expect(c.remember(K, nonce(1), 900, 1500)).toBe("replay");
    expect(c.remember(K, nonce(2), 1500, 1500)).toBe("ok");
  });

  test("full of live entries: 'full', never an unrecorded accept; room again after expiry", () => {
    const c = new NonceCache(3, 1000);
    for (let i = 0; i < 3; i++) expect(c.remember(K, nonce(i), 0, 0)).toBe("ok");
    expect(c.remember(K, nonce(9), 0, 10)).toBe("full");
    expect(c.remember(K, nonce(9), 0, 20)).toBe("full");
    // Expired at 1000, but counted until the end of that second (GENERATION_MS): still full.
    expect(c.remember(K, nonce(9), 1001, 1001)).toBe("full");
    expect(c.remember(K, nonce(9), 2000, 2000)).toBe("ok");
    expect(c.remember(K, nonce(9), 2000, 2001)).toBe("replay");
  });

  test("cost stays flat once entries start to expire (no O(deleted) purge)", () => {
    const c = new NonceCache(1_000_000, 10_000);
    let now = 0;
    const timeCalls = (from: number, to: number) => {
      const t = performance.now();
      for (let i = from; i < to; i++) c.remember(K, nonce(i), (now = i / 10), now);
      return performance.now() - t;
    };
    // The same 20 000 calls before any entry has expired, and after two thirds of 300 000 have.
    timeCalls(0, 20_000);
    const early = timeCalls(20_000, 40_000);
    timeCalls(40_000, 300_000);
    const late = timeCalls(300_000, 320_000);
    // A ratio, not a time: the Map-iterating purge made late calls 50–300× dearer than early ones.
    expect(late / early).toBeLessThan(10);
    // 10 entries per ms for the 10 s window, and at most one second more of them still counted.
    expect(c.size).toBeLessThanOrEqual(100_000 + 10 * GENERATION_MS);
  });
});

describe("NonceCache fingerprint table", () => {
  test("across rebuilds and slot reuse: every live nonce replays, every expired one is forgotten", () => {
    const c = new NonceCache(1_000_000, 1000);
    const A = "w_AAAAAAAAAAAAAAAA";
    // 60 000 entries over 3 s of timestamps (several rebuilds), then the first ones expire.
    for (let i = 0; i < 60_000; i++) expect(c.remember(A, nonce(i), Math.floor(i / 20), Math.floor(i / 20))).toBe("ok");
    const now = 3500; // entries of ts < 2500 have expired (ts + 1000 < now)
    for (let i = 0; i < 60_000; i += 7) expect(c.remember(A, nonce(i), Math.floor(i / 20), now)).toBe(Math.floor(i / 20) + 1000 >= now ? "replay" : "ok");
    // New entries reuse the expired slots; the live ones stay.
    for (let i = 60_000; i < 90_000; i++) expect(c.remember(A, nonce(i), now, now)).toBe("ok");
    for (let i = 50_000; i < 90_000; i += 3) expect(c.remember(A, nonce(i), i < 60_000 ? Math.floor(i / 20) : now, now)).toBe("replay");
  });

  test("the table against a model: runs that cross the end of the table, renewals, deletions, growth", () => {
    // Fingerprints whose home slots crowd around the end of a 1 024-slot table, so probe runs wrap past
    // slot 0 and backward shifting meets both of its cases (after an independent review's fuzz test).
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    for (const width of [4, 16, 64, 2048]) {
      const t = new FingerprintTable();
      const model = new Map<string, [number, number, number]>();
      const pool = Array.from({ length: 700 }, () => [(((rnd(1 << 22) << 10) | ((1024 - (width >> 1) + rnd(width)) & 1023)) >>> 0), ((rnd(1 << 30) * 4) | 1) >>> 0] as const);
      for (let step = 0; step < 6000; step++) {
        const [hi, lo] = pool[rnd(pool.length)]!;
        const k = `${hi}:${lo}`;
        if (rnd(100) < 55 && model.size < 500) {
          const e = rnd(100);
          t.set(hi, lo, e);
          model.set(k, [hi, lo, e]);
        } else {
          const end = rnd(100);
          t.deleteIfBefore(hi, lo, end);
          if ((model.get(k)?.[2] ?? Infinity) < end) model.delete(k);
        }
        for (const [h, l, e] of model.values()) if (t.expiry(h, l) !== e) expect([step, t.expiry(h, l)]).toEqual([step, e]);
        if (step % 20 === 0) {
          // The probe invariant: no empty slot between an entry's home and where it sits.
          const { hi: his, lo: los } = t as unknown as { hi: Uint32Array; lo: Uint32Array };
          const mask = los.length - 1;
          let broken = 0;
          for (let i = 0; i < los.length; i++) if (los[i] !== 0) for (let j = his[i]! & mask; j !== i; j = (j + 1) & mask) if (los[j] === 0) broken++;
          expect(broken).toBe(0);
        }
      }
      for (const [hi, lo] of pool) expect(t.expiry(hi, lo)).toBe(model.get(`${hi}:${lo}`)?.[2] ?? -Infinity);
    }
  });

  test("backward shift across the end of the table: an entry whose home is the hole moves into it", () => {
    const t = new FingerprintTable(); // 1 024 slots
    const fp = (home: number, n: number) => [((n << 10) | home) >>> 0, (n * 4 + 1) >>> 0] as const;
    const [a, b, c] = [fp(1023, 1), fp(1023, 2), fp(1022, 3)];
    t.set(a[0], a[1], 50); // slot 1023
    t.set(b[0], b[1], 60); // home 1023, wraps to slot 0
    t.set(c[0], c[1], 70); // home 1022, slot 1022
    t.deleteIfBefore(a[0], a[1], 100);
    expect([t.expiry(a[0], a[1]), t.expiry(b[0], b[1]), t.expiry(c[0], c[1])]).toEqual([-Infinity, 60, 70]);
    t.deleteIfBefore(c[0], c[1], 65); // renewed past the end: stays
    expect(t.expiry(c[0], c[1])).toBe(70);
  });

  test("the same nonce under another key, or another nonce under the same key, is not a replay", () => {
    const c = new NonceCache(100, 1000);
    expect(c.remember("w_AAAAAAAAAAAAAAAA", nonce(1), 0, 0)).toBe("ok");
    expect(c.remember("w_AAAAAAAAAAAAAAAB", nonce(1), 0, 0)).toBe("ok");
    expect(c.remember("w_AAAAAAAAAAAAAAAA", nonce(2), 0, 0)).toBe("ok");
    expect(c.remember("w_AAAAAAAAAAAAAAAA", nonce(1), 500, 1)).toBe("replay"); // another timestamp: the nonce is still spent
  });
});

describe("NonceCache per-key share", () => {
  const A = "w_AAAAAAAAAAAAAAAA";
  const B = "w_BBBBBBBBBBBBBBBB";

  test("a key past its share gets 'full' for itself only; others still fit; counted", () => {
    const c = new NonceCache(100, 1000, 10);
    for (let i = 0; i < 10; i++) expect(c.remember(A, nonce(i), 0, 0)).toBe("ok");
    expect(c.remember(A, nonce(10), 0, 1)).toBe("full");
    expect(c.remember(A, nonce(3), 0, 1)).toBe("replay"); // a replay is still a replay
    for (let i = 0; i < 10; i++) expect(c.remember(B, nonce(i), 0, 2)).toBe("ok");
    expect(c.heldBy(A)).toBe(10);
    expect(c.refusals.get("replay_cache_per_key")).toBe(1);
    // Once A's entries expire (and their second has passed), A has room again (and its old nonces are forgotten).
    expect(c.remember(A, nonce(10), 1001, 1001)).toBe("full");
    expect(c.remember(A, nonce(10), 2000, 2000)).toBe("ok");
    expect(c.heldBy(A)).toBe(1);
    expect(c.heldBy(B)).toBe(0);
  });

  test("out-of-order expiries: a far-future entry does not hold back the others' counts", () => {
    const c = new NonceCache(100, 1000, 3);
    expect(c.remember(B, nonce(0), 5000, 0)).toBe("ok"); // a far-future timestamp, inserted first
    for (let i = 0; i < 3; i++) expect(c.remember(A, nonce(i), 0, 0)).toBe("ok");
    expect(c.remember(A, nonce(3), 2000, 2000)).toBe("ok"); // A's expired entries were given back
    expect(c.heldBy(A)).toBe(1);
    expect(c.remember(B, nonce(0), 5000, 1002)).toBe("replay");
  });

  test("property: a key's entries never exceed its share, and the cache never exceeds its bound", () => {
    const op = fc.record({ key: fc.constantFrom(A, B, "w_CCCCCCCCCCCCCCCC"), n: fc.integer({ min: 0, max: 40 }), dt: fc.integer({ min: 0, max: 400 }), ahead: fc.integer({ min: -300, max: 300 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const c = new NonceCache(20, 1000, 8);
        const seen = new Map<string, number>(); // model: key+nonce → expiry of the accepted entry
        let now = 0;
        for (const o of ops) {
          now += o.dt;
          const ts = now + o.ahead;
          const r = c.remember(o.key, nonce(o.n), ts, now);
          const k = o.key + nonce(o.n);
          if ((seen.get(k) ?? -Infinity) >= now) expect(r).toBe("replay");
          if (r === "ok") seen.set(k, ts + 1000);
          expect(c.size).toBeLessThanOrEqual(20);
          for (const key of [A, B]) expect(c.heldBy(key)).toBeLessThanOrEqual(8);
        }
      }),
      { numRuns: 300 },
    );
  });
});
