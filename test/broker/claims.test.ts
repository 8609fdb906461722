/**
 * getOrSet's daemon side: `set` with `ifAbsent` and claims on KV keys
 * (PROTOCOL.md §8 `POST /v1/kv/{key}/claim`) — one step answers the value
 * or hands out one claim; claims are key-bound, not re-entrant, expire,
 * count as items, and end with their key (releaseOwner). A property test
 * runs many callers through the getOrSet steps and checks that a value is
 * made once while no claim lapses.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { expectCode, isZero, json, makeStore, T0, text } from "./_helpers.ts";

describe("set with ifAbsent", () => {
  test("writes only when no live key exists; the refused value is zero-filled; nothing changes", () => {
    const { store, clock } = makeStore();
    const a = json("first");
    expect(store.set("k", a, { ttlMs: 100, ifAbsent: true })).toEqual({ expires_at: T0 + 100, written: true });
    const b = json("second");
    expect(store.set("k", b, { ttlMs: 5000, ifAbsent: true })).toEqual({ expires_at: T0 + 100, written: false });
    expect(isZero(b)).toBe(true);
    expect(text(store.get("k").valueJson)).toBe('"first"');
    expect(store.stats()).toMatchObject({ kv: 1, bytes: a.byteLength });
    clock.advance(100); // expired counts as absent
    expect(store.set("k", json("third"), { ttlMs: 100, ifAbsent: true }).written).toBe(true);
  });

  test("a refused write (bad TTL, too large, full) zero-fills the offered value", () => {
    const { store } = makeStore({ maxItems: 1, maxValueBytes: 8 });
    store.set("x", json(1), { ttlMs: 100 });
    for (const [v, opts, code] of [
      [json("s3cr3t"), { ttlMs: 0 }, "invalid_ttl"],
      [json("far-too-long"), { ttlMs: 100 }, "too_large"],
      [json("s3cr3t"), { ttlMs: 100 }, "max_items"],
    ] as const) {
      expectCode(() => store.set("y", v, opts), code);
      expect(isZero(v)).toBe(true);
    }
  });
});

describe("claims", () => {
  test("one step: the value if live (a read), else one claim; others get conflict with the claim's expiry", () => {
    const { store, clock } = makeStore();
    const c = store.claimKey("db", 1000, "w_a");
    expect(c).toEqual({ state: "claimed", token: expect.any(Number), expires_at: T0 + 1000 });
    const e = expectCode(() => store.claimKey("db", 1000, "w_b"), "conflict");
    expect(e.expiresAt).toBe(T0 + 1000);
    expect(e.message).toBe("claim is held");
    expectCode(() => store.claimKey("db", 1000, "w_a"), "conflict"); // not re-entrant, even for the same key id
    clock.advance(10);
    store.set("db", json({ url: "x" }), { ttlMs: 60_000, ifAbsent: true });
    expect(store.releaseClaim("db", (c as { token: number }).token, "w_a")).toEqual({ released: true });
    const v = store.claimKey("db", 1000, "w_b");
    expect(v.state).toBe("value");
    if (v.state === "value") {
      expect(text(v.valueJson)).toBe('{"url":"x"}');
      expect(v.expires_at).toBe(T0 + 60_010);
    }
    expect(store.stats()).toMatchObject({ kv: 1, claims: 0, items: 1 });
  });

  test("a value stored while the claim is held is answered at once (the value wins over the claim)", () => {
    const { store } = makeStore();
    store.claimKey("k", 1000, "w_a");
    store.set("k", json(1), { ttlMs: 1000 });
    expect(store.claimKey("k", 1000, "w_b").state).toBe("value");
  });

  test("renew and release: key-bound, idempotent release, expiry frees the key for the next claimer", () => {
    const { store, clock } = makeStore();
    const c = store.claimKey("k", 100, "w_a") as { token: number };
    expectCode(() => store.renewClaim("k", c.token, 100, "w_b"), "conflict");
    expectCode(() => store.releaseClaim("k", c.token, "w_b"), "conflict");
    clock.advance(90);
    expect(store.renewClaim("k", c.token, undefined, "w_a")).toEqual({ expires_at: T0 + 190 });
    clock.advance(100);
    expectCode(() => store.renewClaim("k", c.token, undefined, "w_a"), "not_found");
    expect(store.releaseClaim("k", c.token, "w_a")).toEqual({ released: false });
    const d = store.claimKey("k", 100, "w_b") as { token: number };
    expect(d.token).toBeGreaterThan(c.token);
  });

  test("validation: ttl required and checked, key name rules; nothing is made", () => {
    const { store } = makeStore();
    expectCode(() => store.claimKey("k", undefined), "ttl_required");
    expectCode(() => store.claimKey("k", 0), "invalid_ttl");
    expectCode(() => store.claimKey("", 100), "invalid_request");
    expectCode(() => store.claimKey("k".repeat(257), 100), "too_large");
    expectCode(() => store.releaseClaim("k", 0), "invalid_request");
    expect(store.stats().items).toBe(0);
  });

  test("releaseOwner ends a key's claims and reports the live ones", () => {
    const { store, clock } = makeStore();
    store.claimKey("a", 1000, "w_a");
    store.claimKey("b", 10, "w_a");
    store.claimKey("c", 1000, "w_b");
    clock.advance(10);
    expect(store.releaseOwner("w_a")).toEqual({ locks: [], pools: [], claims: ["a"] });
    expect(store.claimKey("a", 100, "w_c").state).toBe("claimed");
    expect(store.stats().claims).toBe(2);
  });
});

describe("property: getOrSet steps make one value per key", () => {
  // Callers step through: claim → (made) set ifAbsent → release; the clock moves between steps.
  const op = fc.oneof(
    fc.record({ t: fc.constant("step" as const), who: fc.nat(3) }),
    fc.record({ t: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
  );

  test("while claims do not lapse, exactly one caller writes and every caller ends with its value", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { store, clock } = makeStore();
        type Caller = { phase: "start" | "claimed" | "written" | "done"; token: number; got?: string };
        const callers: Caller[] = [0, 1, 2, 3].map(() => ({ phase: "start", token: 0 }));
        let writes = 0;
        for (const o of ops) {
          if (o.t === "advance") {
            clock.advance(o.ms);
            // keep every held claim alive, as the SDK's renewals do
            for (const c of callers) if (c.phase === "claimed") store.renewClaim("k", c.token, 1000, `w_${callers.indexOf(c)}`);
            continue;
          }
          const c = callers[o.who];
          const owner = `w_${o.who}`;
          if (c.phase === "start") {
            try {
              const r = store.claimKey("k", 1000, owner);
              if (r.state === "value") [c.phase, c.got] = ["done", text(r.valueJson)];
              else [c.phase, c.token] = ["claimed", r.token];
            } catch (e) {
              expect((e as { code: string }).code).toBe("conflict");
            }
          } else if (c.phase === "claimed") {
            const r = store.set("k", json(`made-by-${o.who}`), { ttlMs: 100_000, ifAbsent: true });
            expect(r.written).toBe(true);
            writes++;
            [c.phase, c.got] = ["written", `"made-by-${o.who}"`];
          } else if (c.phase === "written") {
            expect(store.releaseClaim("k", c.token, owner)).toEqual({ released: true });
            c.phase = "done";
          }
        }
        expect(writes).toBeLessThanOrEqual(1);
        const values = new Set(callers.filter((c) => c.got !== undefined).map((c) => c.got));
        expect(values.size).toBeLessThanOrEqual(1);
      }),
      { numRuns: 300 },
    );
  });
});
