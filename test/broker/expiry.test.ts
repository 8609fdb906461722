/**
 * KV expiry rules (PROTOCOL.md §8 "Expiry"): the default TTL and how it
 * relates to ttlRequired, `ttl()` (remaining time, no slide), sliding keys
 * and their cap (last write + maxTtlMs), `ttl_ms: 0`, and a model-based
 * property test of all of it.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { resolveLimits } from "../../src/broker/index.ts";
import { expectCode, json, makeStore, outcome, T0 } from "./_helpers.ts";

const DAY = 24 * 3600_000;

describe("default TTL", () => {
  test("a new key without ttl_ms gets the default; an explicit TTL wins; a live key keeps its expiry", () => {
    const { store, clock } = makeStore({ defaultTtlMs: 600_000 });
    expect(store.set("a", json(1))).toEqual({ expires_at: T0 + 600_000, written: true });
    expect(store.set("b", json(1), { ttlMs: 1000 }).expires_at).toBe(T0 + 1000);
    expect(store.incr("n", 1)).toEqual({ value: 1 });
    expect(store.ttl("n")).toEqual({ ttl_ms: 600_000, expires_at: T0 + 600_000 });
    clock.advance(100_000);
    expect(store.set("a", json(2)).expires_at).toBe(T0 + 600_000); // kept, not reset
    expect(store.claimKey("c", 5000).state).toBe("claimed");
    expect(store.set("c", json(3), { ifAbsent: true }).expires_at).toBe(T0 + 700_000);
    clock.advance(500_000);
    expectCode(() => store.get("a"), "not_found");
  });

  test("a default TTL cannot be combined with ttlRequired: false, and is at most maxTtlMs", () => {
    expectCode(() => resolveLimits({ defaultTtlMs: 1000, ttlRequired: false }), "invalid_request");
    expectCode(() => resolveLimits({ defaultTtlMs: 31 * DAY }), "invalid_request");
    expectCode(() => resolveLimits({ defaultTtlMs: -1 }), "invalid_request");
    expectCode(() => resolveLimits({ slidingTtl: "yes" as unknown as boolean }), "invalid_request");
    expect(resolveLimits({ defaultTtlMs: 30 * DAY }).defaultTtlMs).toBe(30 * DAY);
  });

  test("without a default: ttl_required, or no expiry under ttlRequired: false", () => {
    expectCode(() => makeStore().store.set("k", json(1)), "ttl_required");
    const { store } = makeStore({ ttlRequired: false });
    store.set("k", json(1));
    expect(store.ttl("k")).toEqual({ ttl_ms: null, expires_at: null });
  });
});

describe("ttl()", () => {
  test("remaining ms of a live key; null for no expiry; not_found when missing or expired; never slides", () => {
    const { store, clock } = makeStore();
    expectCode(() => store.ttl("k"), "not_found");
    store.set("k", json(1), { ttlMs: 1000, slide: true });
    clock.advance(400);
    expect(store.ttl("k")).toEqual({ ttl_ms: 600, expires_at: T0 + 1000 });
    expect(store.ttl("k")).toEqual({ ttl_ms: 600, expires_at: T0 + 1000 }); // no slide
    clock.advance(599);
    expect(store.ttl("k").ttl_ms).toBe(1);
    clock.advance(1);
    expectCode(() => store.ttl("k"), "not_found");
    expectCode(() => store.ttl(""), "invalid_request");
  });
});

describe("sliding expiry", () => {
  test("each get pushes the expiry to now + the key's TTL; other calls do not", () => {
    const { store, clock } = makeStore();
    store.set("s", json(1), { ttlMs: 1000, slide: true });
    store.set("f", json(1), { ttlMs: 1000 });
    clock.advance(900);
    expect(store.get("s").expires_at).toBe(T0 + 1900);
    expect(store.get("f").expires_at).toBe(T0 + 1000);
    clock.advance(900); // 1800: s lives only because it was read
    expect(store.list("")).toEqual(["s"]);
    store.incr("s", 1); // a write without ttl_ms keeps the expiry (and the slide)
    expect(store.ttl("s").expires_at).toBe(T0 + 1900);
    const claim = store.claimKey("s", 100); // a claim that finds the value is a read
    expect(claim).toMatchObject({ state: "value", expires_at: T0 + 2800 });
    clock.advance(1000);
    expectCode(() => store.get("s"), "not_found");
  });

  test("a slide never moves the expiry past the last write + maxTtlMs, nor backwards", () => {
    const { store, clock } = makeStore({ maxTtlMs: 10_000 });
    store.set("s", json(1), { ttlMs: 4000, slide: true });
    for (let i = 0; i < 3; i++) {
      clock.advance(3000);
      store.get("s");
    }
    expect(store.ttl("s").expires_at).toBe(T0 + 10_000); // would be 13 000: capped at write + max
    clock.advance(999);
    expect(store.get("s").expires_at).toBe(T0 + 10_000);
    store.set("s", json(2), { ttlMs: 1000 }); // a write moves the cap: now + max
    clock.advance(900);
    expect(store.get("s").expires_at).toBe(T0 + 9999 + 1900);
    store.set("s", json(3), { ttlMs: 5000, slide: false }); // and may turn the slide off
    clock.advance(100);
    expect(store.get("s").expires_at).toBe(T0 + 10_899 + 5000);
  });

  test("the daemon default (slidingTtl) applies to writes that do not say; slide: false opts out", () => {
    const { store, clock } = makeStore({ slidingTtl: true, defaultTtlMs: 1000 });
    store.set("a", json(1));
    store.set("b", json(1), { slide: false });
    store.incr("n", 1);
    clock.advance(500);
    expect(store.get("a").expires_at).toBe(T0 + 1500);
    expect(store.get("b").expires_at).toBe(T0 + 1000);
    expect(store.get("n").expires_at).toBe(T0 + 1500);
  });

  test("a key without expiry does not slide; bad flags are refused and change nothing", () => {
    const { store } = makeStore({ ttlRequired: false, slidingTtl: true });
    store.set("k", json(1));
    expect(store.get("k").expires_at).toBeNull();
    expectCode(() => store.set("k", json(2), { slide: 1 as unknown as boolean }), "invalid_request");
    expectCode(() => store.set("k", json(2), { ifAbsent: "y" as unknown as boolean }), "invalid_request");
    expect(new TextDecoder().decode(store.get("k").valueJson)).toBe("1");
  });
});

describe("property: expiry against a model", () => {
  const MAX = 200;
  const op = fc.oneof(
    fc.record({ t: fc.constant("set" as const), ttl: fc.option(fc.integer({ min: 1, max: MAX }), { nil: undefined }), slide: fc.option(fc.boolean(), { nil: undefined }), ifAbsent: fc.boolean() }),
    fc.record({ t: fc.constant("get" as const) }),
    fc.record({ t: fc.constant("ttl" as const) }),
    fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 120 }) }),
  );

  test("expiry, slide and cap follow the rules; ttl() agrees with get()", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.option(fc.integer({ min: 1, max: MAX }), { nil: undefined }), fc.array(op, { maxLength: 80 }), (sliding, dflt, ops) => {
        const { store, clock } = makeStore({ maxTtlMs: MAX, slidingTtl: sliding, defaultTtlMs: dflt ?? 0 });
        let m: { e: number; t: number; c: number; s: boolean } | undefined;
        const live = () => (m !== undefined && m.e > clock.t ? m : (m = undefined));
        for (const o of ops) {
          const k = live();
          if (o.t === "advance") clock.advance(o.ms);
          else if (o.t === "set") {
            const got = outcome(() => store.set("k", json(1), { ttlMs: o.ttl, slide: o.slide, ifAbsent: o.ifAbsent }));
            if (k && o.ifAbsent) expect(got).toBe("ok");
            else if (o.ttl === undefined && !k && dflt === undefined) expect(got).toBe("ttl_required");
            else {
              expect(got).toBe("ok");
              const t = o.ttl ?? k?.t ?? dflt!;
              const e = o.ttl !== undefined || !k ? clock.t + t : k.e;
              m = { e, t, c: clock.t + MAX, s: o.slide ?? k?.s ?? sliding };
            }
          } else if (o.t === "get") {
            if (!k) expectCode(() => store.get("k"), "not_found");
            else {
              if (k.s) k.e = Math.max(k.e, Math.min(clock.t + k.t, k.c));
              expect(store.get("k").expires_at).toBe(k.e);
            }
          } else {
            if (!k) expectCode(() => store.ttl("k"), "not_found");
            else expect(store.ttl("k")).toEqual({ ttl_ms: k.e - clock.t, expires_at: k.e });
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
