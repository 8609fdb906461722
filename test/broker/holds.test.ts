/**
 * What one key holds, and its bounds: credential leases per worker (shared
 * leases count; none per credential, so no few keys can lock a shared one), the indexes that end a holder's leases,
 * locks and pool slots at once, locks and pool leases bound to the key that
 * took them, and the credential cap. A model-based property test checks the
 * indexed credential store against a plain list of leases.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CredentialStore, DEFAULT_LIMITS } from "../../src/broker/index.ts";
import { utf8 } from "../../src/crypto/index.ts";
import { expectCode, makeStore } from "./_helpers.ts";

const mk = (limits: { maxCreds?: number; maxLeasesPerWorker?: number } = {}) => {
  let t = 1_000_000;
  const s = new CredentialStore(() => t, { ...DEFAULT_LIMITS, ...limits });
  return { s, advance: (ms: number) => (t += ms) };
};

describe("credential lease limits", () => {
  test("shared leases count per worker → max_items, counted; other workers are not affected", () => {
    const { s, advance } = mk({ maxLeasesPerWorker: 3 });
    s.put("api", [utf8("v")], { allow: ["*"] });
    s.put("db", [utf8("w")], { allow: ["*"] });
    for (let i = 0; i < 3; i++) s.checkout("api", "w_a", [], 1000);
    expect(expectCode(() => s.checkout("db", "w_a", [], 1000), "max_items").message).toContain("3 live credential leases");
    for (let i = 0; i < 2; i++) s.checkout("api", `w_${i}`, [], 1000);
    expect(s.checkout("api", "w_z", [], 1000).leaseId).toMatch(/^l_/);
    expect(Object.fromEntries(s.refusals.counts)).toEqual({ leases_per_worker: 1 });
    advance(1000); // every lease expires: room again
    expect(s.heldBy("w_a")).toBe(0);
    s.checkout("api", "w_a", [], 1000);
    expect(s.list().find((c) => c.name === "api")!.in_use).toBe(1);
  });

  test("ten keys holding every lease they may (1 000 each, 24 h) do not lock anyone out of a shared credential", () => {
    const { s } = mk(); // the defaults
    s.put("api", [utf8("v")], { allow: ["*"] });
    for (let k = 0; k < 10; k++) {
      for (let i = 0; i < 1_000; i++) s.checkout("api", `w_hog${k}`, [], 24 * 3_600_000);
      expectCode(() => s.checkout("api", `w_hog${k}`, [], 1000), "max_items"); // each is held to its own cap
    }
    for (let w = 0; w < 5; w++) expect(s.checkout("api", `w_other${w}`, [], 60_000).leaseId).toMatch(/^l_/);
    expect(s.list()[0].in_use).toBe(10_005);
  });

  test("a returned lease frees its place at once; a refused checkout changes nothing", () => {
    const { s } = mk({ maxLeasesPerWorker: 1 });
    s.put("api", [utf8("v")], { allow: ["*"] });
    const l = s.checkout("api", "w_a", [], 60_000);
    expectCode(() => s.checkout("api", "w_a", [], 60_000), "max_items");
    expect(s.list()[0].in_use).toBe(1);
    s.giveBack(l.leaseId, "w_a");
    s.checkout("api", "w_a", [], 60_000);
  });

  test("the credential cap counts names, not replacements", () => {
    const { s } = mk({ maxCreds: 2 });
    s.put("a", [utf8("1")]);
    s.put("b", [utf8("1")]);
    s.put("a", [utf8("2")]); // replacing is fine
    expectCode(() => s.put("c", [utf8("1")]), "max_items");
    s.delete("b");
    s.put("c", [utf8("1")]);
    expect(s.size).toBe(2);
  });

  test("endHolder ends only that holder's live leases and frees exclusive values, lowest first", () => {
    const { s } = mk();
    s.put("acct", ["a", "b", "c"].map(utf8), { allow: ["*"], mode: "exclusive" });
    s.put("api", [utf8("v")], { allow: ["*"] });
    const a0 = s.checkout("acct", "w_a", [], 60_000);
    const b1 = s.checkout("acct", "w_b", [], 60_000);
    s.checkout("acct", "w_a", [], 60_000);
    s.checkout("api", "w_a", [], 60_000);
    expect(new TextDecoder().decode(a0.value)).toBe("a");
    expect(s.endHolder("w_a").map((l) => l.cred).sort()).toEqual(["acct", "acct", "api"]);
    expect(s.endHolder("w_a")).toEqual([]);
    expect(s.heldBy("w_b")).toBe(1);
    expect(new TextDecoder().decode(s.checkout("acct", "w_c", [], 1000).value)).toBe("a");
    expect(new TextDecoder().decode(s.checkout("acct", "w_c", [], 1000).value)).toBe("c");
    expectCode(() => s.giveBack(a0.leaseId, "w_a"), "not_found");
    s.giveBack(b1.leaseId, "w_b");
  });

  test("property: the indexed store agrees with a plain list of leases", () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant("out" as const), cred: fc.constantFrom("x", "s"), w: fc.integer({ min: 0, max: 3 }), ttl: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ k: fc.constant("back" as const), i: fc.nat() }),
      fc.record({ k: fc.constant("end" as const), w: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ k: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { s, advance } = mk({ maxLeasesPerWorker: 3 });
        s.put("x", ["0", "1", "2"].map(utf8), { allow: ["*"], mode: "exclusive" });
        s.put("s", [utf8("v")], { allow: ["*"] });
        let now = 1_000_000;
        let model: { id: string; cred: string; w: string; slot: number; exp: number }[] = [];
        const live = () => (model = model.filter((l) => l.exp > now));
        for (const o of ops) {
          if (o.k === "tick") {
            advance(o.ms);
            now += o.ms;
          } else if (o.k === "out") {
            const w = `w_${o.w}`;
            live();
            const mine = model.filter((l) => l.w === w).length;
            const onCred = model.filter((l) => l.cred === o.cred);
            const free = [0, 1, 2].find((i) => !onCred.some((l) => l.slot === i));
            const want = o.cred === "x" && free === undefined ? "conflict" : mine >= 3 ? "max_items" : "ok";
            let got = "ok";
            try {
              const c = s.checkout(o.cred, w, [], o.ttl);
              const slot = o.cred === "x" ? Number(new TextDecoder().decode(c.value)) : 0;
              if (o.cred === "x") expect(slot).toBe(free!);
              model.push({ id: c.leaseId, cred: o.cred, w, slot, exp: now + o.ttl });
            } catch (e: any) {
              got = e.code;
            }
            expect(got).toBe(want);
          } else if (o.k === "back") {
            live();
            if (model.length === 0) continue;
            const l = model[o.i % model.length];
            s.giveBack(l.id, l.w);
            model = model.filter((m) => m !== l);
          } else {
            live();
            const w = `w_${o.w}`;
            expect(s.endHolder(w).length).toBe(model.filter((l) => l.w === w).length);
            model = model.filter((l) => l.w !== w);
          }
          live();
          for (const c of s.list()) expect(c.in_use).toBe(model.filter((l) => l.cred === c.name).length);
          for (let w = 0; w < 4; w++) expect(s.heldBy(`w_${w}`)).toBe(model.filter((l) => l.w === `w_${w}`).length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("locks and pool leases are bound to the key that took them", () => {
  test("renew and release from another key: conflict, whatever the token", () => {
    const { store } = makeStore();
    const a = store.acquireLock("L", 1000, undefined, "w_a");
    expectCode(() => store.renewLock("L", a.token, 1000, "w_b"), "conflict");
    expectCode(() => store.releaseLock("L", a.token, "w_b"), "conflict");
    expectCode(() => store.releaseLock("L", a.token, undefined), "conflict");
    expect(store.releaseLock("L", a.token + 1, "w_a")).toEqual({ released: false });
    store.renewLock("L", a.token, 2000, "w_a");
    expect(store.releaseLock("L", a.token, "w_a")).toEqual({ released: true });
    expect(store.releaseLock("L", a.token, "w_a")).toEqual({ released: false });
  });

  test("pool: another key's release is conflict; the same holder string from another key is another lease", () => {
    const { store } = makeStore();
    const a = store.leasePool("P", 3, 1000, "h", "w_a");
    expectCode(() => store.releasePool("P", a.token, "w_b"), "conflict");
    expectCode(() => store.renewPool("P", a.token, 1000, "w_b"), "conflict");
    const b = store.leasePool("P", 3, 1000, "h", "w_b");
    expect(b.slot).not.toBe(a.slot);
    expect(store.leasePool("P", 3, 5000, "h", "w_a")).toEqual({ slot: a.slot, token: a.token, expires_at: expect.any(Number) });
    store.releasePool("P", a.token, "w_a");
    store.releasePool("P", b.token, "w_b");
  });

  test("releaseOwner ends every live lock and pool slot of a key, and only those", () => {
    const { store, clock } = makeStore();
    store.acquireLock("mine", 1000, undefined, "w_a");
    store.acquireLock("short", 10, undefined, "w_a");
    const theirs = store.acquireLock("theirs", 1000, undefined, "w_b");
    store.leasePool("P", 2, 1000, undefined, "w_a");
    const pb = store.leasePool("P", 2, 1000, undefined, "w_b");
    store.leasePool("Q", 1, 1000, undefined, "w_a");
    clock.advance(20); // "short" has expired: not reported as released
    expect(store.releaseOwner("w_a")).toEqual({ locks: ["mine"], pools: ["P", "Q"], claims: [] });
    expect(store.releaseOwner("w_a")).toEqual({ locks: [], pools: [], claims: [] });
    expect(store.stats()).toMatchObject({ locks: 1, pools: 1, leases: 1 });
    expect(store.acquireLock("mine", 1000, undefined, "w_c").token).toBeGreaterThan(theirs.token);
    store.releasePool("P", pb.token, "w_b");
    expect(store.leasePool("Q", 1, 1000, undefined, "w_c").slot).toBe(0);
  });
});
