/** src/crypto/mac.ts: the keyed HMAC state per MAC key, checked against RFC 4231, @noble and key changes. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as c from "../../src/crypto/index.ts";

const b64u = (bytes: Uint8Array) => c.toB64u(bytes);

describe("macState (keyed once, copied per message)", () => {
  test("RFC 4231 test case 2, twice from the same state", () => {
    const key = c.fromHex("4a656665");
    const data = c.fromHex("7768617420646f2079612077616e7420666f72206e6f7468696e673f");
    const want = b64u(c.fromHex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    expect(c.macState(key).b64u(data)).toBe(want);
    expect(c.macState(key).b64u(data)).toBe(want);
    expect(c.macState(key).fork().update(data).digest("base64url")).toBe(want);
  });

  test("equals @noble on random keys and messages (strings and bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.uint8Array({ maxLength: 300 }), fc.string(), (k, d, s) => {
        const st = c.macState(k);
        expect(st.b64u(d)).toBe(b64u(c.hmacSha256Noble(k, d)));
        expect(st.b64u(s)).toBe(b64u(c.hmacSha256Noble(k, c.utf8(s))));
      }),
    );
  });

  test("a key changed in place is keyed again, never answered with the old state", () => {
    const key = c.randomBytes(32);
    const before = c.macState(key).b64u("m");
    key[7] ^= 1;
    expect(c.macState(key).b64u("m")).toBe(b64u(c.hmacSha256Noble(key, c.utf8("m"))));
    expect(c.macState(key).b64u("m")).not.toBe(before);
  });

  test("wipe drops the state; a fork taken before keeps the old key", () => {
    const key = c.randomBytes(32);
    const copy = key.slice();
    const fork = c.macState(key).fork();
    c.wipe(key);
    expect(fork.update("answer").digest("base64url")).toBe(b64u(c.hmacSha256Noble(copy, c.utf8("answer"))));
    expect(c.macState(key).b64u("answer")).toBe(b64u(c.hmacSha256Noble(new Uint8Array(32), c.utf8("answer"))));
  });
});
