import { describe, test, expect } from "bun:test";
import fc from "fast-check";
import { DEFAULT_LIMITS, MemoryStore } from "../../src/broker/index.ts";
import { HushError } from "../../src/errors.ts";
import { expectCode, isZero, json, makeStore, T0, text } from "./_helpers.ts";

const DAY = 24 * 3600_000;

describe("kv: set/get/del", () => {
  test("round trip returns the very bytes stored and expires_at = now + ttl", () => {
    const { store } = makeStore();
    const v = json({ user: "ci", pw: "hunter2" });
    expect(store.set("db/creds", v, { ttlMs: 5000 })).toEqual({ expires_at: T0 + 5000, written: true });
    const got = store.get("db/creds");
    expect(got.valueJson).toBe(v);
    expect(JSON.parse(text(got.valueJson))).toEqual({ user: "ci", pw: "hunter2" });
    expect(got.expires_at).toBe(T0 + 5000);
  });

  test("missing key -> not_found; message has no value", () => {
    const { store } = makeStore();
    const e = expectCode(() => store.get("nope"), "not_found");
    expect(e.message).toBe("key not found");
  });

  test("del removes and zero-fills; a second del reports false", () => {
    const { store } = makeStore();
    const v = json("secret-value");
    store.set("k", v, { ttlMs: 1000 });
    expect(store.del("k")).toEqual({ deleted: true });
    expect(isZero(v)).toBe(true);
    expect(store.del("k")).toEqual({ deleted: false });
    expectCode(() => store.get("k"), "not_found");
    expect(store.stats().kv).toBe(0);
  });

  test("overwrite zero-fills the old buffer, keeps the new one", () => {
    const { store } = makeStore();
    const a = json("first-secret");
    const b = json("second-secret");
    store.set("k", a, { ttlMs: 1000 });
    store.set("k", b, { ttlMs: 1000 });
    expect(isZero(a)).toBe(true);
    expect(text(store.get("k").valueJson)).toBe('"second-secret"');
    expect(store.stats()).toMatchObject({ kv: 1, bytes: b.byteLength });
  });

  test("setting the same buffer again does not wipe it", () => {
    const { store } = makeStore();
    const a = json("same");
    store.set("k", a, { ttlMs: 1000 });
    store.set("k", a, { ttlMs: 2000 });
    expect(text(store.get("k").valueJson)).toBe('"same"');
  });

  test("wipe() zero-fills every stored buffer and drops everything", () => {
    const { store } = makeStore();
    const bufs = [json("a-secret"), json({ x: "b-secret" }), json([1, 2, 3])];
    bufs.forEach((b, i) => store.set(`k${i}`, b, { ttlMs: 1000 }));
    store.acquireLock("l", 1000);
    store.leasePool("p", 2, 1000);
    store.wipe();
    for (const b of bufs) expect(isZero(b)).toBe(true);
    expect(store.stats()).toEqual({ items: 0, kv: 0, locks: 0, claims: 0, pools: 0, leases: 0, bytes: 0 });
    expect(store.list("")).toEqual([]);
  });

  test("empty value -> invalid_request; non-bytes -> invalid_request", () => {
    const { store } = makeStore();
    expectCode(() => store.set("k", new Uint8Array(0), { ttlMs: 1000 }), "invalid_request");
    expectCode(() => store.set("k", "x" as unknown as Uint8Array, { ttlMs: 1000 }), "invalid_request");
  });
});

describe("kv: TTL and expiry", () => {
  test("live until expires_at - 1, gone at expires_at; the buffer is zero-filled on access", () => {
    const { store, clock } = makeStore();
    const v = json("ephemeral-secret");
    store.set("k", v, { ttlMs: 100 });
    clock.advance(99);
    expect(store.get("k").valueJson).toBe(v);
    clock.advance(1);
    expectCode(() => store.get("k"), "not_found");
    expect(isZero(v)).toBe(true);
    expect(store.stats().kv).toBe(0);
  });

  test("list excludes expired keys (and wipes them), sorted, prefix-filtered", () => {
    const { store, clock } = makeStore();
    const short = json("s");
    store.set("b/2", json(2), { ttlMs: 1000 });
    store.set("a/1", json(1), { ttlMs: 1000 });
    store.set("b/1", json(1), { ttlMs: 1000 });
    store.set("b/short", short, { ttlMs: 10 });
    expect(store.list("")).toEqual(["a/1", "b/1", "b/2", "b/short"]);
    clock.advance(10);
    expect(store.list("b/")).toEqual(["b/1", "b/2"]);
    expect(store.list("")).toEqual(["a/1", "b/1", "b/2"]);
    expect(store.list("zzz")).toEqual([]);
    expect(isZero(short)).toBe(true);
  });

  test("list prefix is validated loosely", () => {
    const { store } = makeStore();
    expectCode(() => store.list("a\nb"), "invalid_request");
    expectCode(() => store.list("x".repeat(257)), "too_large");
    expect(store.list("x".repeat(256))).toEqual([]);
  });

  test("sweep removes and zero-fills everything expired, returns the count", () => {
    const { store, clock } = makeStore();
    const a = json("a");
    const b = json("b");
    const c = json("c");
    store.set("a", a, { ttlMs: 10 });
    store.set("b", b, { ttlMs: 20 });
    store.set("c", c, { ttlMs: 30 });
    expect(store.sweep()).toBe(0);
    clock.advance(20);
    expect(store.sweep()).toBe(2);
    expect(isZero(a) && isZero(b)).toBe(true);
    expect(isZero(c)).toBe(false);
    expect(store.stats()).toMatchObject({ kv: 1, bytes: c.byteLength });
    clock.advance(10);
    expect(store.sweep()).toBe(1);
    expect(isZero(c)).toBe(true);
    expect(store.sweep()).toBe(0);
  });

  test("sweep sees an expiry that was shortened by an overwrite", () => {
    const { store, clock } = makeStore();
    store.set("k", json(1), { ttlMs: 1000 });
    store.sweep();
    const v = json(2);
    store.set("k", v, { ttlMs: 5 });
    clock.advance(5);
    expect(store.sweep()).toBe(1);
    expect(isZero(v)).toBe(true);
  });

  test("ttl_required for a new key; an existing key keeps its expiry without ttl_ms", () => {
    const { store, clock } = makeStore();
    const e = expectCode(() => store.set("k", json(1)), "ttl_required");
    expect(e.message).toContain("ttl_ms");
    store.set("k", json(1), { ttlMs: 100 });
    clock.advance(50);
    expect(store.set("k", json(2))).toEqual({ expires_at: T0 + 100, written: true });
    clock.advance(50);
    expectCode(() => store.get("k"), "not_found");
    expectCode(() => store.set("k", json(3)), "ttl_required"); // expired = new
  });

  test("ttlRequired: false -> no expiry (expires_at null)", () => {
    const { store, clock } = makeStore({ ttlRequired: false });
    expect(store.set("k", json(1))).toEqual({ expires_at: null, written: true });
    clock.advance(365 * DAY);
    expect(store.get("k").expires_at).toBeNull();
    expect(store.sweep()).toBe(0);
  });

  test("invalid_ttl for 0, negative, non-integer, non-number and > maxTtlMs; maxTtlMs itself is ok", () => {
    const { store } = makeStore();
    for (const bad of [-1, -1000, 1.5, 0.1, NaN, Infinity, -Infinity, DEFAULT_LIMITS.maxTtlMs + 1, 2 ** 53]) {
      const e = expectCode(() => store.set("k", json(1), { ttlMs: bad }), "invalid_ttl");
      expect(e.message).toBe("ttl_ms must be a positive integer ≤ 2592000000");
    }
    // 0 never means "no expiry", not even where keys may live for ever.
    for (const s of [store, makeStore({ ttlRequired: false }).store]) {
      expect(expectCode(() => s.set("k", json(1), { ttlMs: 0 }), "invalid_ttl").message).toContain("ttl_ms 0 is refused");
      expectCode(() => s.incr("k", 1, 0), "invalid_ttl");
    }
    expectCode(() => store.set("k", json(1), { ttlMs: "100" as unknown as number }), "invalid_ttl");
    expect(store.stats().kv).toBe(0);
    expect(store.set("k", json(1), { ttlMs: DEFAULT_LIMITS.maxTtlMs }).expires_at).toBe(T0 + 30 * DAY);
    expect(store.set("k", json(1), { ttlMs: 1 }).expires_at).toBe(T0 + 1);
  });

  test("a fractional clock is floored to integer ms", () => {
    let t = T0 + 0.75;
    const store = new MemoryStore({ now: () => t });
    expect(store.set("k", json(1), { ttlMs: 10 }).expires_at).toBe(T0 + 10);
    t = T0 + 9.99;
    expect(store.get("k").expires_at).toBe(T0 + 10);
  });
});

describe("kv: limits", () => {
  test("key length: 256 bytes ok, 257 too_large (ASCII)", () => {
    const { store } = makeStore();
    store.set("k".repeat(256), json(1), { ttlMs: 1000 });
    const e = expectCode(() => store.set("k".repeat(257), json(1), { ttlMs: 1000 }), "too_large");
    expect(e.message).toBe("key is longer than 256 bytes");
    expectCode(() => store.get("k".repeat(257)), "too_large");
  });

  test("key length counts UTF-8 bytes (2-, 3- and 4-byte characters)", () => {
    const { store } = makeStore();
    const ok = ["é".repeat(128), "€".repeat(85) + "a", "😀".repeat(64), "a" + "é".repeat(127) + "b"];
    const big = ["é".repeat(128) + "a", "€".repeat(86), "😀".repeat(64) + "a", "😀".repeat(65)];
    for (const k of ok) expect(store.set(k, json(1), { ttlMs: 1000 }).expires_at).toBe(T0 + 1000);
    for (const k of big) expectCode(() => store.set(k, json(1), { ttlMs: 1000 }), "too_large");
    expect(store.list("").length).toBe(ok.length);
  });

  test("bad key names -> invalid_request", () => {
    const { store } = makeStore();
    const bad = ["", "a\u0000b", "\u001f", "x\u007f", "\u0080", "\u009f", "tab\there", "nl\n", "\ud800", "a\udc00b", "\u00a0", "a\u202eb", " ", "k ", "\u2800"];
    for (const k of bad) expectCode(() => store.set(k, json(1), { ttlMs: 1000 }), "invalid_request");
    expectCode(() => store.get(42 as unknown as string), "invalid_request");
    // Just outside the control ranges are fine.
    for (const k of ["a b", "~", "/a/b:c", "ключ", "\ud83d\ude00"]) store.set(k, json(1), { ttlMs: 1000 });
  });

  test("value size: maxValueBytes ok, +1 too_large (default and custom)", () => {
    const { store } = makeStore();
    const max = DEFAULT_LIMITS.maxValueBytes;
    expect(max).toBe(262_144);
    store.set("k", new Uint8Array(max).fill(0x31), { ttlMs: 1000 });
    const e = expectCode(() => store.set("k2", new Uint8Array(max + 1).fill(0x31), { ttlMs: 1000 }), "too_large");
    expect(e.message).toBe("value is larger than 262144 bytes");

    const small = makeStore({ maxValueBytes: 8 }).store;
    small.set("k", json("123456"), { ttlMs: 1000 }); // 8 bytes with quotes
    expectCode(() => small.set("k", json("1234567"), { ttlMs: 1000 }), "too_large");
    expect(text(small.get("k").valueJson)).toBe('"123456"'); // failed overwrite changed nothing
  });

  test("maxItems: full store rejects new keys, allows overwrites, frees on delete and expiry", () => {
    const { store, clock } = makeStore({ maxItems: 3 });
    store.set("a", json(1), { ttlMs: 1000 });
    store.set("b", json(1), { ttlMs: 1000 });
    store.set("c", json(1), { ttlMs: 10 });
    const e = expectCode(() => store.set("d", json(1), { ttlMs: 1000 }), "max_items");
    expect(e.message).toBe("store is full (3 items)");
    store.set("a", json(2), { ttlMs: 1000 }); // overwrite when full
    store.incr("a", 1, 1000); // existing-key incr when full
    expectCode(() => store.incr("n", 1, 1000), "max_items");
    store.del("b");
    store.set("d", json(1), { ttlMs: 1000 });
    expectCode(() => store.set("e", json(1), { ttlMs: 1000 }), "max_items");
    clock.advance(10); // "c" expires; no explicit sweep needed
    store.set("e", json(1), { ttlMs: 1000 });
    expect(store.stats().items).toBe(3);
  });

  test("maxItems counts held locks, claims and live pool leases", () => {
    const { store, clock } = makeStore({ maxItems: 4 });
    store.set("a", json(1), { ttlMs: 1000 });
    const lock = store.acquireLock("lock", 1000);
    store.leasePool("pool", 4, 50);
    store.leasePool("pool", 4, 50); // every lease is an item, in a new pool or not
    expect(store.stats()).toMatchObject({ items: 4, kv: 1, locks: 1, pools: 1, leases: 2 });
    expectCode(() => store.set("b", json(1), { ttlMs: 1000 }), "max_items");
    expectCode(() => store.acquireLock("lock2", 1000), "max_items");
    expectCode(() => store.leasePool("pool", 4, 1000), "max_items");
    expectCode(() => store.leasePool("pool2", 1, 1000), "max_items");
    expectCode(() => store.claimKey("c", 1000), "max_items");
    expect(store.stats()).toMatchObject({ items: 4, pools: 1, leases: 2, claims: 0 });
    store.releaseLock("lock", lock.token);
    store.claimKey("c", 1000);
    clock.advance(50); // the pool's leases expire
    store.acquireLock("lock2", 1000);
    store.set("b", json(1), { ttlMs: 1000 });
    expect(store.stats()).toMatchObject({ items: 4, kv: 2, locks: 1, claims: 1, pools: 0, leases: 0 });
  });

  test("bad limits fail fast", () => {
    for (const limits of [{ maxItems: 0 }, { maxKeyBytes: 1.5 }, { maxTtlMs: -1 }, { ttlRequired: "no" }]) {
      expectCode(() => makeStore(limits as never), "invalid_request");
    }
    expect(makeStore({ maxItems: undefined }).store.limits.maxItems).toBe(10_000);
  });
});

describe("kv: prototype-pollution keys are ordinary keys", () => {
  const names = ["__proto__", "constructor", "hasOwnProperty", "toString", "prototype", "valueOf", "__defineGetter__"];

  test("missing before set, round trip after, listed, deleted", () => {
    const { store } = makeStore();
    for (const k of names) expectCode(() => store.get(k), "not_found");
    for (const k of names) store.set(k, json({ k }), { ttlMs: 1000 });
    for (const k of names) expect(JSON.parse(text(store.get(k).valueJson))).toEqual({ k });
    expect(store.list("")).toEqual([...names].sort());
    expect(store.incr("__proto__x", 2, 1000)).toEqual({ value: 2 });
    for (const k of names) expect(store.del(k)).toEqual({ deleted: true });
    expect(store.list("")).toEqual(["__proto__x"]);
    expect(({} as Record<string, unknown>).k).toBeUndefined();
    expect(Object.prototype.hasOwnProperty).toBeTypeOf("function");
  });

  test("as lock and pool names", () => {
    const { store } = makeStore();
    for (const k of names) {
      const l = store.acquireLock(k, 1000);
      expectCode(() => store.acquireLock(k, 1000), "conflict");
      store.releaseLock(k, l.token);
      expect(store.leasePool(k, 1, 1000).slot).toBe(0);
      expectCode(() => store.leasePool(k, 1, 1000), "conflict");
    }
  });
});

describe("kv: incr", () => {
  test("new key starts at `by`; existing key adds; value readable as JSON", () => {
    const { store } = makeStore();
    expect(store.incr("c", 5, 1000)).toEqual({ value: 5 });
    expect(store.incr("c", -7)).toEqual({ value: -2 });
    expect(store.incr("c", 0)).toEqual({ value: -2 });
    expect(text(store.get("c").valueJson)).toBe("-2");
  });

  test("new key needs ttl; existing keeps its expiry unless ttl_ms given", () => {
    const { store, clock } = makeStore();
    expectCode(() => store.incr("c", 1), "ttl_required");
    store.incr("c", 1, 100);
    clock.advance(60);
    store.incr("c", 1);
    expect(store.get("c").expires_at).toBe(T0 + 100);
    store.incr("c", 1, 100);
    expect(store.get("c").expires_at).toBe(T0 + 160);
    clock.advance(100);
    expectCode(() => store.get("c"), "not_found");
    expect(makeStore({ ttlRequired: false }).store.incr("c", 1)).toEqual({ value: 1 });
  });

  test("counts on values set as JSON integers", () => {
    const { store } = makeStore();
    for (const [stored, expected] of [["41", 42], [" 41 ", 42], ["-1", 0], ["1e3", 1001], ["4.0", 5]] as const) {
      store.set("n", new TextEncoder().encode(stored), { ttlMs: 1000 });
      expect(store.incr("n", 1).value).toBe(expected);
    }
  });

  test("`by` must be a safe integer", () => {
    const { store } = makeStore();
    store.incr("c", 1, 1000);
    for (const bad of [1.5, NaN, Infinity, 2 ** 53, "1" as unknown as number, undefined as unknown as number]) {
      const e = expectCode(() => store.incr("c", bad), "invalid_request");
      expect(e.message).toBe("by must be a safe integer");
    }
    expect(store.incr("c", 0).value).toBe(1);
  });

  test("existing non-integer value -> invalid_request, value untouched, secret not in message", () => {
    const { store } = makeStore();
    for (const v of ["s3cr3t-token", 1.5, { n: 1 }, [1], true, null, "12"]) {
      const buf = json(v);
      store.set("x", buf, { ttlMs: 1000 });
      const e = expectCode(() => store.incr("x", 1), "invalid_request");
      expect(e.message).toBe("value of key is not an integer");
      expect(store.get("x").valueJson).toBe(buf);
      expect(isZero(buf)).toBe(false);
    }
  });

  test("result beyond the safe integer range -> invalid_request, value untouched", () => {
    const { store } = makeStore();
    store.incr("c", Number.MAX_SAFE_INTEGER, 1000);
    expectCode(() => store.incr("c", 1), "invalid_request");
    expect(store.incr("c", 0).value).toBe(Number.MAX_SAFE_INTEGER);
    store.incr("d", Number.MIN_SAFE_INTEGER, 1000);
    expectCode(() => store.incr("d", -1), "invalid_request");
  });

  test("incr zero-fills the previous value buffer", () => {
    const { store } = makeStore();
    const v = json(10);
    store.set("c", v, { ttlMs: 1000 });
    store.incr("c", 1);
    expect(isZero(v)).toBe(true);
  });

  test("property: incr agrees with a running sum", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1_000_000, max: 1_000_000 }), { minLength: 1, maxLength: 50 }), (xs) => {
        const { store } = makeStore();
        let sum = 0;
        for (const x of xs) {
          sum += x;
          expect(store.incr("c", x, 1000).value).toBe(sum);
        }
        expect(Number(text(store.get("c").valueJson))).toBe(sum);
      }),
    );
  });
});

describe("kv: failures never leak values and change nothing", () => {
  test("property: error messages never contain the stored or offered value", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (tail) => {
        const secret = `S3CR3T-${tail}`;
        const { store } = makeStore({ maxValueBytes: 64 });
        const buf = json(secret);
        store.set("s", buf, { ttlMs: 1000 });
        const before = text(buf);
        const msgs: string[] = [];
        const attempts = [
          () => store.set("s", json(secret.repeat(20)), { ttlMs: 1000 }),
          () => store.set("s", json(secret), { ttlMs: 0 }),
          () => store.set("t", json(secret)),
          () => store.incr("s", 1),
          () => store.set("", json(secret), { ttlMs: 1000 }),
        ];
        for (const a of attempts) {
          try {
            a();
          } catch (e) {
            expect(e).toBeInstanceOf(HushError);
            msgs.push((e as HushError).message, JSON.stringify((e as HushError).detail));
          }
        }
        expect(msgs.length).toBe(attempts.length * 2);
        for (const m of msgs) {
          expect(m.includes(secret)).toBe(false);
          expect(m.includes(JSON.stringify(secret))).toBe(false);
        }
        expect(text(store.get("s").valueJson)).toBe(before);
        expect(store.stats().kv).toBe(1);
      }),
    );
  });

  test("property: KV agrees with a Map model under random ops and clock moves", () => {
    const key = fc.constantFrom("a", "b", "__proto__", "constructor", "é");
    const op = fc.oneof(
      fc.record({ t: fc.constant("set" as const), k: key, v: fc.integer(), ttl: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ t: fc.constant("del" as const), k: key }),
      fc.record({ t: fc.constant("get" as const), k: key }),
      fc.record({ t: fc.constant("incr" as const), k: key, by: fc.integer({ min: -5, max: 5 }) }),
      fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ t: fc.constant("sweep" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { store, clock } = makeStore();
        const model = new Map<string, { v: number; e: number }>();
        const live = (k: string) => {
          const m = model.get(k);
          return m && m.e > clock.t ? m : undefined;
        };
        for (const o of ops) {
          if (o.t === "set") {
            store.set(o.k, json(o.v), { ttlMs: o.ttl });
            model.set(o.k, { v: o.v, e: clock.t + o.ttl });
          } else if (o.t === "del") {
            expect(store.del(o.k).deleted).toBe(live(o.k) !== undefined);
            model.delete(o.k);
          } else if (o.t === "get") {
            const m = live(o.k);
            if (m) expect(JSON.parse(text(store.get(o.k).valueJson))).toBe(m.v);
            else expectCode(() => store.get(o.k), "not_found");
          } else if (o.t === "incr") {
            const m = live(o.k);
            if (m) {
              expect(store.incr(o.k, o.by).value).toBe(m.v + o.by);
              m.v += o.by;
            } else {
              expectCode(() => store.incr(o.k, o.by), "ttl_required");
            }
          } else if (o.t === "advance") clock.advance(o.ms);
          else store.sweep();
          const keys = [...model.keys()].filter((k) => live(k)).sort();
          expect(store.list("")).toEqual(keys);
          expect(store.stats().kv).toBe(keys.length);
        }
      }),
    );
  });
});
