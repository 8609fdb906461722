/**
 * Join limits by source and network (src/server/joinlimit.ts): address
 * aggregation (IPv4 per address and /24, IPv6 per /64 and /48, IPv4-mapped
 * IPv6 as IPv4), and the shares of the global budget, with a manual clock.
 * The same rules through the compiled binary with real source addresses:
 * test/e2e/joinlimit.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { expandIPv6, JoinLimiter, sourceOf } from "../../src/server/joinlimit.ts";

describe("sourceOf", () => {
  test.each([
    ["203.0.113.7", "203.0.113.7", "203.0.113.0/24"],
    ["::ffff:203.0.113.7", "203.0.113.7", "203.0.113.0/24"],
    ["::FFFF:cb00:7107", "203.0.113.7", "203.0.113.0/24"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64", "2001:db8:1::/48"],
    ["2001:db8:1:2::9", "2001:db8:1:2::/64", "2001:db8:1::/48"],
    ["2001:0DB8:0001:0002:ffff::1%eth0", "2001:db8:1:2::/64", "2001:db8:1::/48"],
    ["[fe80::1]", "fe80:0:0:0::/64", "fe80:0:0::/48"],
    ["::1", "0:0:0:0::/64", "0:0:0::/48"],
    ["64:ff9b::192.0.2.33", "64:ff9b:0:0::/64", "64:ff9b:0::/48"],
  ])("%s → %s in %s", (addr, source, network) => {
    expect(sourceOf(addr)).toEqual({ source, network });
  });

  test("malformed addresses stand for themselves; expandIPv6 refuses them", () => {
    for (const a of ["1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1", "1:2:3:4:5:6:7", "::1.2.3.999", "unix"]) {
      expect(expandIPv6(a)).toBeNull();
      expect(sourceOf(a)).toEqual({ source: a, network: a });
    }
  });
});

describe("JoinLimiter", () => {
  const mk = (r: ConstructorParameters<typeof JoinLimiter>[0]) => {
    let t = 0;
    return { l: new JoinLimiter(r, () => t), tick: (ms: number) => (t += ms) };
  };

  test("one source takes at most a quarter of the global burst, one network at most half", () => {
    const { l } = mk({ global: 20, globalBurst: 40, perSource: 100, perSourceBurst: 100 });
    let ok = 0;
    for (let i = 0; i < 50; i++) if (l.take(`2001:db8:1:2::${i.toString(16)}`) === 0) ok++;
    expect(ok).toBe(10); // one /64: 40 / 4
    ok = 0;
    for (let s = 0; s < 50; s++) if (l.take(`2001:db8:1:${(s + 3).toString(16)}::1`) === 0) ok++;
    expect(ok).toBe(10); // the rest of the /48: 40 / 2 − 10
    expect(l.take("2001:db8:2::1")).toBe(0); // another network still joins
    expect(l.take("198.51.100.1")).toBe(0);
  });

  test("per-source and per-network defaults; a refusal leaves later buckets uncharged; the unix socket has only the global one", () => {
    const { l, tick } = mk({ global: 2000, globalBurst: 4000, perSource: 20, perSourceBurst: 40 });
    for (let i = 0; i < 40; i++) expect(l.take("192.0.2.1")).toBe(0);
    expect(l.take("192.0.2.1")).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 1000; i++) l.take("192.0.2.1");
    for (let h = 2; h < 5; h++) for (let i = 0; i < 40; i++) expect(l.take(`192.0.2.${h}`)).toBe(0);
    expect(l.take("192.0.2.9")).toBeGreaterThanOrEqual(1); // the /24 used its 160
    for (let i = 0; i < 3840; i++) expect(l.take("unix")).toBe(0); // 4000 − 160: refusals took no global token
    expect(l.take("unix")).toBeGreaterThanOrEqual(1);
    tick(1000);
    expect(l.take("unix")).toBe(0);
  });
});

describe("retention of buckets", () => {
  test("prune forgets the sources, networks and keys whose buckets have refilled, and only those", () => {
    let t = 0;
    const j = new JoinLimiter({ global: 100, globalBurst: 200, perSource: 2, perSourceBurst: 4 }, () => t);
    j.take("10.0.0.1");
    t = 1000;
    j.take("10.0.1.1");
    j.prune();
    // 10.0.0.1 took 1 of 4 a second ago (2/s): full again, forgotten; 10.0.1.1 not yet.
    expect(j.perSource.size).toBe(1);
    t = 2000;
    j.prune();
    expect([j.perSource.size, j.perNetwork.size, j.global.size]).toEqual([0, 0, 0]);
    // Forgetting a full bucket changes no decision: the next take starts from a full bucket.
    for (let i = 0; i < 4; i++) expect(j.take("10.0.0.1")).toBe(0);
    expect(j.take("10.0.0.1")).toBeGreaterThan(0);
  });
});
