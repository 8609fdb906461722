/**
 * Bounds on keys and tokens: live worker keys (`max_items` past the cap, a
 * revoked or expired key frees its place), records of ended keys and
 * tokens pruned beyond twice the cap, the usable-token cap, and the
 * registry's `onEnd` hook, called once for every way a key ends.
 */
import { describe, expect, test } from "bun:test";
import { KeyRegistry, TokenRegistry, type KeyEnd } from "../../src/broker/index.ts";
import { expectCode, FakeClock } from "./_helpers.ts";

describe("KeyRegistry", () => {
  test("at most maxWorkers live worker keys; revocation and (swept) expiry free places; admin keys do not count", () => {
    const clock = new FakeClock();
    const r = new KeyRegistry(clock.now, { maxWorkers: 3 });
    const a = r.create({ kind: "worker", name: "a", via: "issue", ttlMs: 1000 });
    r.create({ kind: "worker", name: "b", via: "issue" });
    r.create({ kind: "worker", name: "c", via: "join" });
    r.create({ kind: "admin", name: "root", via: "issue" });
    expect(expectCode(() => r.create({ kind: "worker", name: "d", via: "join" }), "max_items").message).toContain("3 live worker keys");
    r.revoke(r.list().find((k) => k.name === "b")!.id);
    r.create({ kind: "worker", name: "d", via: "issue" });
    expectCode(() => r.create({ kind: "worker", name: "e", via: "issue" }), "max_items");
    clock.advance(1000);
    expectCode(() => r.create({ kind: "worker", name: "e", via: "issue" }), "max_items"); // not swept yet
    r.sweep();
    expect(r.get(a.id)).toBeDefined(); // the record stays for listings
    r.create({ kind: "worker", name: "e", via: "issue" });
    expect(r.refusals.counts.get("workers")).toBe(3);
  });

  test("onEnd runs once per key: on revoke (with its cause) and on expiry noticed by sweep", () => {
    const clock = new FakeClock();
    const r = new KeyRegistry(clock.now);
    const ended: [string, KeyEnd][] = [];
    r.onEnd = (rec, end) => ended.push([rec.name, end]);
    const a = r.create({ kind: "worker", name: "a", via: "issue" });
    r.create({ kind: "worker", name: "b", via: "issue", ttlMs: 10 });
    r.revoke(a.id, { reason: "clone_suspected", actor: a.id });
    r.revoke(a.id);
    clock.advance(10);
    r.sweep();
    r.sweep();
    expect(ended).toEqual([
      ["a", { reason: "clone_suspected", actor: a.id }],
      ["b", { reason: "expired", actor: expect.stringMatching(/^w_/) }],
    ]);
  });

  test("records of ended keys beyond twice maxWorkers are dropped, oldest first", () => {
    const clock = new FakeClock();
    const r = new KeyRegistry(clock.now, { maxWorkers: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const k = r.create({ kind: "worker", name: `k${i}`, via: "join" });
      ids.push(k.id);
      clock.advance(1);
      r.revoke(k.id);
    }
    r.sweep();
    expect(r.list().map((k) => k.name)).toEqual(["k2", "k3", "k4", "k5"]);
  });
});

describe("TokenRegistry", () => {
  test("at most maxTokens usable tokens; used-up, revoked and expired ones free places; old records pruned", () => {
    const clock = new FakeClock();
    const t = new TokenRegistry(clock.now, { maxTokens: 2 });
    const a = t.create({ uses: 1 }, "s_x");
    const b = t.create({ ttlMs: 100 }, "s_x");
    expect(expectCode(() => t.create({}, "s_x"), "max_items").message).toContain("2 usable join tokens");
    t.spend(a);
    const c = t.create({}, "s_x");
    clock.advance(100); // b expires
    const d = t.create({}, "s_x");
    t.revoke(c.id);
    const e = t.create({}, "s_x");
    expect(t.refusals.counts.get("tokens")).toBe(1);
    t.sweep();
    // Ended records are kept an hour, but 5 records > 2 × maxTokens: the one that ended first (a, used up) goes.
    expect(t.list({ all: true }).map((x) => x.id)).toEqual([b.id, c.id, d.id, e.id]);
    clock.advance(3600_001); // b (expired) and c (revoked) ended over an hour ago
    t.sweep();
    expect(t.list({ all: true }).map((x) => x.id)).toEqual([d.id, e.id]);
  });
});
