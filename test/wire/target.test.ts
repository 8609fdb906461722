/**
 * src/wire/target.ts: the character scan must never call a target canonical
 * that a WHATWG URL parser would rewrite, and `canonicalTarget` must answer
 * exactly what the parser answers, on hand-picked shapes and on many
 * generated targets.
 */
import { expect, test } from "bun:test";
import { canonicalTarget, isPlainTarget } from "../../src/wire/target.ts";

/** The oracle: what the daemon checked before the scan existed. */
function byParser(t: string): string | null {
  try {
    const u = new URL(t, "http://localhost");
    return u.pathname + u.search === t ? t : null;
  } catch {
    return null;
  }
}

const SHAPES = [
  "/v1/kv/a", "/v1/kv/a%2Fb", "/v1/kv?prefix=a&after=b", "/v1/kv?", "/v1/kv??", "/v1/kv?a?b", "//evil/v1", "/",
  "/v1/./kv", "/v1/../kv", "/v1/%2e/kv", "/v1/%2E%2e/kv", "/v1/.%2e/kv", "/v1/kv/.", "/v1/kv/..", "/v1/kv/.a", "/v1/kv/a.",
  "/v1/kv/a b", "/v1/kv/a\\b", "/v1/kv/a#b", "/v1/kv/a'b", "/v1/kv?x='", "/v1/kv/a|b", "/v1/kv/a^b", "/v1/kv/a`b",
  "/v1/kv/a{b}", "/v1/kv/<b>", '/v1/kv/"', "/v1/kv/%", "/v1/kv/%2", "/v1/kv/%zz", "/v1/kv/%41", "/v1/kv/é", "/v1/kv/a\tb",
  "/v1/kv/a\nb", "/v1/kv/\u0000", "v1/kv", "", "/v1/kv/~!$&()*+,;=:@", "/v1/kv?q=.", "/v1/kv?q=/./", "/v1/kv/[::1]",
];

test("the scan agrees with the URL parser on hand-picked shapes, and accepts only what the parser keeps", () => {
  for (const t of SHAPES) {
    expect([t, canonicalTarget(t)]).toEqual([t, byParser(t)]);
    if (isPlainTarget(t)) expect([t, byParser(t)]).toEqual([t, t]);
  }
  // The common targets take the fast path.
  for (const t of ["/v1/kv/a", "/v1/kv/bench%3Ak%3A1", "/v1/kv?prefix=a&after=b%2Fc", "/v1/locks/db-migrate/renew", "/v1/whoami"]) expect(isPlainTarget(t)).toBe(true);
});

test("the scan agrees with the URL parser on 200 000 generated targets", () => {
  let a = 0x7a3f26a;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pieces = ["/", "/", "a", "Z", "0", ".", "..", "%2e", "%2E", "%2f", "%", "%4", "%zz", "?", "&", "=", "#", " ", "\\", "'", '"', "<", ">", "^", "`", "{", "|", "}", "~", "!", "$", "(", "*", "+", ",", ";", ":", "@", "[", "]", "é", "\u0000", "\t", "\u007f", "\u2028", "\ud800"];
  let plain = 0;
  for (let i = 0; i < 200_000; i++) {
    let t = rnd() < 0.9 ? "/" : "";
    const len = 1 + Math.floor(rnd() * 8);
    for (let j = 0; j < len; j++) t += pieces[Math.floor(rnd() * pieces.length)];
    const want = byParser(t);
    if (canonicalTarget(t) !== want) throw new Error(`disagree on ${JSON.stringify(t)}: scan says ${canonicalTarget(t)}, parser ${want}`);
    if (isPlainTarget(t)) {
      plain++;
      if (want !== t) throw new Error(`the scan passed ${JSON.stringify(t)}, which the parser rewrites`);
    }
  }
  expect(plain).toBeGreaterThan(1000);
});
