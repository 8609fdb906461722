/** src/crypto: native fast paths checked against RFC vectors and @noble. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as c from "../../src/crypto/index.ts";

describe("HMAC-SHA256 (RFC 4231)", () => {
  const cases = [
    ["0b".repeat(20), "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
    ["4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
    ["aa".repeat(20), "dd".repeat(50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"],
    ["aa".repeat(131), "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"],
  ];
  test.each(cases)("key %#", (k, d, want) => {
    expect(c.toHex(c.hmacSha256(c.fromHex(k), c.fromHex(d)))).toBe(want);
    expect(c.toHex(c.hmacSha256Noble(c.fromHex(k), c.fromHex(d)))).toBe(want);
  });
  test("native equals @noble on random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 300 }), (k, d) => {
        expect(c.toHex(c.hmacSha256(k, d))).toBe(c.toHex(c.hmacSha256Noble(k, d)));
        expect(c.toHex(c.sha256(d))).toBe(c.toHex(c.sha256Noble(d)));
      }),
    );
  });
});

describe("X25519 (RFC 7748 §6.1)", () => {
  const a = c.fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const b = c.fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  test("public keys and shared secret", () => {
    expect(c.toHex(c.x25519PublicKey(a))).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    expect(c.toHex(c.x25519PublicKey(b))).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    const k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    expect(c.toHex(c.x25519(a, c.x25519PublicKey(b)))).toBe(k);
    expect(c.toHex(c.x25519Noble.shared(b, c.x25519Noble.publicKey(a)))).toBe(k);
  });
  test("native equals @noble for fresh keys", () => {
    for (let i = 0; i < 20; i++) {
      const p = c.generateX25519();
      const q = c.generateX25519();
      expect(c.toHex(c.x25519Noble.publicKey(p.secretKey))).toBe(c.toHex(p.publicKey));
      expect(c.toHex(c.x25519(p.secretKey, q.publicKey))).toBe(c.toHex(c.x25519Noble.shared(q.secretKey, p.publicKey)));
    }
  });
  test("a low-order public key is refused", () => {
    expect(() => c.x25519(a, new Uint8Array(32))).toThrow();
  });
});

describe("bytes", () => {
  test("equalBytes", () => {
    expect(c.equalBytes(c.utf8("abc"), c.utf8("abc"))).toBe(true);
    expect(c.equalBytes(c.utf8("abc"), c.utf8("abd"))).toBe(false);
    expect(c.equalBytes(c.utf8("abc"), c.utf8("ab"))).toBe(false);
  });
  test("wipe zero-fills", () => {
    const x = c.randomBytes(32);
    c.wipe(x, undefined);
    expect(x.every((b) => b === 0)).toBe(true);
  });
  test("ChaCha20-Poly1305 (RFC 8439 §2.8.2)", () => {
    const key = c.fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    const nonce = c.fromHex("070000004041424344454647");
    const aad = c.fromHex("50515253c0c1c2c3c4c5c6c7");
    const pt = c.utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const ct = c.sealChaCha(key, nonce, pt, aad);
    expect(c.toHex(ct.subarray(ct.length - 16))).toBe("1ae10b594f09e26a7e902ecbd0600691");
    expect(c.fromUtf8(c.openChaCha(key, nonce, ct, aad))).toBe(c.fromUtf8(pt));
    ct[0] ^= 1;
    expect(() => c.openChaCha(key, nonce, ct, aad)).toThrow();
  });
});

describe("base64url (native fast path vs @scure/base)", () => {
  test("encode and decode agree on random bytes; decoding is strict", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const s = c.toB64u(b);
        expect(s).toBe(c.b64uReference.encode(b));
        expect([...c.fromB64u(s)]).toEqual([...b]);
      }),
    );
    for (const bad of ["a", "ab=", "a+b", "a/b", "ab c", "AB", "AQ=", "AR"]) {
      let native = false;
      let reference = false;
      try {
        c.fromB64u(bad);
      } catch {
        native = true;
      }
      try {
        c.b64uReference.decode(bad);
      } catch {
        reference = true;
      }
      expect(native).toBe(reference);
    }
  });
});

describe("hot-path forms (one-shot SHA-256, pooled nonces)", () => {
  test("sha256Hex equals @noble on strings and bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.string(), (d, s) => {
        expect(c.sha256Hex(d)).toBe(c.toHex(c.sha256Noble(d)));
        expect(c.sha256Hex(s)).toBe(c.toHex(c.sha256Noble(c.utf8(s))));
      }),
    );
  });
  test("randomB64u gives canonical base64url of n fresh bytes, never the same twice", () => {
    const seen = new Set<string>();
    // More than one pool's worth, so the refill is crossed.
    for (let i = 0; i < 600; i++) {
      const s = c.randomB64u(16);
      expect(s).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
      expect(c.fromB64u(s).length).toBe(16);
      seen.add(s);
    }
    expect(seen.size).toBe(600);
    expect(() => c.randomB64u(0)).toThrow(RangeError);
    expect(() => c.randomB64u(4097)).toThrow(RangeError);
  });
});
