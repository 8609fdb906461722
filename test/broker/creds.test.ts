/** Credential policy (default deny) and exclusive pools (one holder per value). */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CredentialStore, isAllowed } from "../../src/broker/index.ts";
import { DEFAULT_LIMITS } from "../../src/broker/index.ts";
import { utf8 } from "../../src/crypto/index.ts";

const mk = () => {
  let t = 1_000_000;
  const s = new CredentialStore(() => t, DEFAULT_LIMITS);
  return { s, advance: (ms: number) => (t += ms) };
};

describe("policy matrix", () => {
  test.each([
    [["ci"], ["ci"], true],
    [["ci", "db"], ["db"], true],
    [["ci"], ["prod"], false],
    [[], ["ci"], false], // default deny: no allow-list means nobody
    [["ci"], [], false], // an untagged worker gets nothing
    [["*"], [], true],
    [["*"], ["x"], true],
  ] as [string[], string[], boolean][])("allow %j, worker tags %j → %p", (allow, tags, want) => {
    expect(isAllowed(allow, tags)).toBe(want);
    const { s } = mk();
    s.put("c", [utf8("v")], { allow });
    if (want) expect(s.checkout("c", "w_1", tags).leaseId).toMatch(/^l_/);
    else expect(() => s.checkout("c", "w_1", tags)).toThrow(expect.objectContaining({ code: "forbidden" }));
  });
});

describe("exclusive pools", () => {
  test("N workers × M values: never two holders of one value, conflict when exhausted, expiry recycles", () => {
    const { s, advance } = mk();
    const M = 3;
    s.put("acct", [utf8("a"), utf8("b"), utf8("c")], { allow: ["ci"], mode: "exclusive" });
    const held = new Map<string, string>();
    for (let w = 0; w < M; w++) {
      const c = s.checkout("acct", `w_${w}`, ["ci"], 1000);
      const v = new TextDecoder().decode(c.value);
      expect([...held.values()]).not.toContain(v);
      held.set(c.leaseId, v);
    }
    expect(() => s.checkout("acct", "w_9", ["ci"], 1000)).toThrow(expect.objectContaining({ code: "conflict" }));
    const [first] = held.keys();
    expect(() => s.giveBack(first, "w_9")).toThrow(expect.objectContaining({ code: "forbidden" }));
    s.giveBack(first, "w_0");
    expect(new TextDecoder().decode(s.checkout("acct", "w_9", ["ci"], 1000).value)).toBe(held.get(first)!);
    advance(1000);
    expect(s.checkout("acct", "w_10", ["ci"], 1000).leaseId).toBeTruthy(); // expired leases recycled
  });
  test("property: random checkouts, returns and time never give one value to two live leases", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("out", "back", "tick"), fc.nat(5), fc.nat(3000)), { maxLength: 60 }), (ops) => {
        const { s, advance } = mk();
        s.put("p", [utf8("0"), utf8("1"), utf8("2")], { allow: ["*"], mode: "exclusive" });
        const live: { id: string; v: string; until: number; w: string }[] = [];
        let now = 1_000_000;
        for (const [op, w, n] of ops) {
          if (op === "tick") {
            advance(n);
            now += n;
          } else if (op === "out") {
            try {
              const c = s.checkout("p", `w_${w}`, [], 1 + n);
              live.push({ id: c.leaseId, v: new TextDecoder().decode(c.value), until: c.expiresAt, w: `w_${w}` });
            } catch (e: any) {
              expect(e.code).toBe("conflict");
              expect(live.filter((l) => l.until > now).length).toBe(3);
            }
          } else {
            const l = live.find((x) => x.until > now);
            if (l) {
              s.giveBack(l.id, l.w);
              live.splice(live.indexOf(l), 1);
            }
          }
          const vals = live.filter((l) => l.until > now).map((l) => l.v);
          expect(new Set(vals).size).toBe(vals.length);
        }
      }),
    );
  });
});

test("values are zero-filled when replaced, deleted or wiped", () => {
  const { s } = mk();
  const a = utf8("secret-a");
  s.put("x", [a], { allow: ["*"] });
  const b = utf8("secret-b");
  s.put("x", [b], { allow: ["*"] });
  expect(a.every((x) => x === 0)).toBe(true);
  s.delete("x");
  expect(b.every((x) => x === 0)).toBe(true);
  const c = utf8("secret-c");
  s.put("y", [c], { allow: ["*"] });
  s.wipe();
  expect(c.every((x) => x === 0)).toBe(true);
});

test("bad input changes nothing", () => {
  const { s } = mk();
  s.put("x", [utf8("v1")], { allow: ["ci"] });
  expect(() => s.put("x", [utf8("a"), utf8("b")], { mode: "shared" })).toThrow();
  expect(() => s.put("x", [utf8("a")], { mode: "weird" })).toThrow();
  expect(() => s.put("x", [utf8("a")], { allow: ["bad tag"] })).toThrow();
  expect(new TextDecoder().decode(s.checkout("x", "w", ["ci"]).value)).toBe("v1");
  expect(s.list()[0].version).toBe(1);
});

test("a replaced credential keeps its allow-list unless a new one is given; a new one allows nobody", () => {
  const { s } = mk();
  expect(s.put("c", [utf8("v1")]).allow).toEqual([]);
  expect(s.put("c", [utf8("v2")], { allow: ["ci"] }).allow).toEqual(["ci"]);
  const kept = s.put("c", [utf8("v3")]);
  expect({ allow: kept.allow, version: kept.version }).toEqual({ allow: ["ci"], version: 3 });
  expect(s.checkout("c", "w_1", ["ci"]).leaseId).toMatch(/^l_/);
  expect(s.put("c", [utf8("v4")], { allow: [] }).allow).toEqual([]);
  expect(s.put("d", [utf8("x")]).allow).toEqual([]);
});
