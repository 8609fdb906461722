/**
 * Paged KV listings (PROTOCOL.md §8 `GET /v1/kv`): limit, opaque cursor,
 * prefix, expiry on the way; and the ordered structures behind them and
 * behind lease expiry (SortedKeys, IndexedHeap, IntHeap), checked against
 * plain arrays.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeCursor, DEFAULT_LIMITS, encodeCursor } from "../../src/broker/index.ts";
import { SortedKeys } from "../../src/broker/sorted.ts";
import { IndexedHeap, IntHeap } from "../../src/broker/heap.ts";
import { expectCode, json, makeStore } from "./_helpers.ts";

/** Every page of a listing, following next_cursor. */
function allPages(store: ReturnType<typeof makeStore>["store"], prefix: string, limit?: number): string[][] {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const p = store.listPage(prefix, { limit, cursor });
    pages.push(p.keys);
    cursor = p.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return pages;
}

describe("listPage", () => {
  test("pages of `limit`, in order, each key once; next_cursor null on the last page", () => {
    const { store } = makeStore();
    const keys = Array.from({ length: 25 }, (_, i) => `k/${String(i).padStart(2, "0")}`);
    for (const k of [...keys].reverse()) store.set(k, json(1), { ttlMs: 10_000 });
    store.set("other", json(1), { ttlMs: 10_000 });
    const pages = allPages(store, "k/", 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual(keys);
    expect(store.listPage("k/", { limit: 25 }).next_cursor).toBeNull();
    expect(store.listPage("", {}).keys.length).toBe(26);
  });

  test("limit is cut to maxListPage; bad limit or cursor is invalid_request", () => {
    const { store } = makeStore({ maxListPage: 3 });
    for (let i = 0; i < 5; i++) store.set(`k${i}`, json(i), { ttlMs: 10_000 });
    expect(store.listPage("", { limit: 1000 }).keys).toEqual(["k0", "k1", "k2"]);
    expect(store.listPage("").keys.length).toBe(3);
    for (const limit of [0, -1, 1.5, NaN]) expectCode(() => store.listPage("", { limit }), "invalid_request");
    for (const cursor of ["", "!!", "_w", encodeCursor("a\u202eb"), "A".repeat(2000)]) expectCode(() => store.listPage("", { cursor }), "invalid_request");
  });

  test("keys added or deleted between pages: no key twice, none skipped that lived throughout", () => {
    const { store } = makeStore();
    for (const k of ["a", "c", "e", "g"]) store.set(k, json(1), { ttlMs: 10_000 });
    const p1 = store.listPage("", { limit: 2 });
    expect(p1.keys).toEqual(["a", "c"]);
    store.del("c"); // the cursor's own key is gone: paging still continues after it
    store.set("b", json(1), { ttlMs: 10_000 }); // before the cursor: not seen, as in any cursor listing
    store.set("d", json(1), { ttlMs: 10_000 });
    const p2 = store.listPage("", { limit: 2, cursor: p1.next_cursor! });
    expect(p2.keys).toEqual(["d", "e"]);
    expect(store.listPage("", { cursor: p2.next_cursor! }).keys).toEqual(["g"]);
  });

  test("expired keys are skipped (and dropped) on the way", () => {
    const { store, clock } = makeStore();
    for (let i = 0; i < 10; i++) store.set(`k${i}`, json(i), { ttlMs: i % 2 ? 100 : 10_000 });
    clock.advance(100);
    expect(allPages(store, "", 2).flat()).toEqual(["k0", "k2", "k4", "k6", "k8"]);
    expect(store.stats().kv).toBe(5);
  });

  test("a cursor names a key; decodeCursor accepts exactly what encodeCursor makes of a valid name", () => {
    for (const k of ["a", "build/id", "ключ", "😀", "x".repeat(256)]) expect(decodeCursor(encodeCursor(k), DEFAULT_LIMITS)).toBe(k);
  });
});

describe("listing budget (listRate keys per second per owner, bursts of twice that)", () => {
  test("an owner over budget is rate_limited with retryAfter; others are not; it refills with time", () => {
    const { store, clock } = makeStore({ listRate: 5, maxListPage: 4 });
    for (let i = 0; i < 20; i++) store.set(`k${String(i).padStart(2, "0")}`, json(i), { ttlMs: 60_000 });
    // Burst 10: pages of 4, 4, 4 (the last one may overdraw), then refused.
    let cursor: string | undefined;
    for (let i = 0; i < 3; i++) cursor = store.listPage("", { cursor, owner: "w_a" }).next_cursor!;
    const e = expectCode(() => store.listPage("", { cursor, owner: "w_a" }), "rate_limited");
    expect(e.detail).toEqual({ limit: "list_rate", retryAfter: 1 });
    expect(store.listPage("", { owner: "w_b" }).keys.length).toBe(4);
    expect(store.listPage("", {}).keys.length).toBe(4); // no owner (inside the daemon): no budget
    expect(store.refusals.counts.get("list_rate")).toBe(1);
    clock.advance(1000); // -2 + 5
    expect(store.listPage("", { cursor, owner: "w_a" }).keys).toEqual(["k12", "k13", "k14", "k15"]);
  });

  test("listRate 0 is unlimited", () => {
    const { store } = makeStore({ listRate: 0, maxListPage: 2 });
    for (let i = 0; i < 4; i++) store.set(`k${i}`, json(i), { ttlMs: 60_000 });
    for (let i = 0; i < 100; i++) expect(store.listPage("", { owner: "w_a" }).keys.length).toBe(2);
  });
});

describe("SortedKeys", () => {
  test("property: agrees with a sorted array under inserts, removes and seeks", () => {
    const key = fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "😀"), maxLength: 4 });
    const op = fc.oneof(
      fc.record({ k: fc.constant("ins" as const), v: key }),
      fc.record({ k: fc.constant("del" as const), v: key }),
      fc.record({ k: fc.constant("seek" as const), v: key, after: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const s = new SortedKeys();
        const model = new Set<string>();
        for (const o of ops) {
          if (o.k === "ins") {
            s.insert(o.v);
            model.add(o.v);
          } else if (o.k === "del") expect(s.remove(o.v)).toBe(model.delete(o.v));
          else {
            const sorted = [...model].sort();
            const want = sorted.filter((x) => (o.after ? x > o.v : x >= o.v));
            const pos = s.seek(o.v, o.after);
            const got: string[] = [];
            for (let x = s.next(pos); x !== undefined; x = s.next(pos)) got.push(x);
            expect(got).toEqual(want);
          }
          expect(s.size).toBe(model.size);
        }
      }),
      { numRuns: 300 },
    );
  });

  test("many keys: chunks split and empty correctly", () => {
    const s = new SortedKeys();
    const n = 5000;
    const keys = Array.from({ length: n }, (_, i) => `k${(i * 7919) % n}`);
    for (const k of keys) s.insert(k);
    const pos = s.seek("");
    const out: string[] = [];
    for (let x = s.next(pos); x !== undefined; x = s.next(pos)) out.push(x);
    expect(out).toEqual([...keys].sort());
    for (const k of keys.slice(0, n - 3)) expect(s.remove(k)).toBe(true);
    expect(s.size).toBe(3);
  });
});

describe("heaps", () => {
  test("property: IndexedHeap pops in key order with removals; IntHeap pops the smallest", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean())), (xs) => {
        const h = new IndexedHeap<{ _h: number; k: number }>((x) => x.k);
        const items = xs.map(([k]) => ({ _h: -1, k }));
        for (const it of items) h.push(it);
        const kept = items.filter((_, i) => !xs[i][1]);
        items.forEach((it, i) => xs[i][1] && h.remove(it));
        const out: number[] = [];
        for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x.k);
        expect(out).toEqual(kept.map((x) => x.k).sort((a, b) => a - b));
        const ih = new IntHeap(5);
        for (const [k] of xs) ih.push(k);
        const ints: number[] = [];
        for (let v = ih.pop(); v >= 0; v = ih.pop()) ints.push(v);
        expect(ints).toEqual([0, 1, 2, 3, 4, ...xs.map(([k]) => k)].sort((a, b) => a - b));
      }),
    );
  });
});
