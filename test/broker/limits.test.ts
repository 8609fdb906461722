import { describe, test, expect } from "bun:test";
import fc from "fast-check";
import { DEFAULT_LIMITS, resolveLimits, validateName } from "../../src/broker/index.ts";
import { validateHolder, validatePrefix } from "../../src/broker/limits.ts";
import { expectCode, outcome } from "./_helpers.ts";

describe("limits", () => {
  test("secure defaults", () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxItems: 10_000,
      maxValueBytes: 256 * 1024,
      maxKeyBytes: 256,
      ttlRequired: true,
      defaultTtlMs: 0,
      slidingTtl: false,
      maxTtlMs: 30 * 24 * 3600_000,
      maxPoolSize: 65_536,
      maxListPage: 1000,
      listRate: 20_000,
    });
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  test("resolveLimits merges overrides, ignores unknown fields, rejects nonsense", () => {
    const l = resolveLimits({ maxItems: 5, extra: 1 } as never);
    expect(l).toEqual({ ...DEFAULT_LIMITS, maxItems: 5 });
    expectCode(() => resolveLimits({ maxValueBytes: 0 }), "invalid_request");
    expectCode(() => resolveLimits({ maxPoolSize: Infinity }), "invalid_request");
  });

  test("validateName names the field in its messages", () => {
    expect(expectCode(() => validateName("", DEFAULT_LIMITS), "invalid_request").message).toBe("key must not be empty");
    expect(expectCode(() => validateName("x".repeat(257), DEFAULT_LIMITS, "pool name"), "too_large").message).toBe(
      "pool name is longer than 256 bytes",
    );
    expect(expectCode(() => validateName("a\tb", DEFAULT_LIMITS, "lock name"), "invalid_request").message).toBe(
      "lock name must be valid UTF-8 without control, format or invisible characters",
    );
    validateName("x".repeat(256), DEFAULT_LIMITS);
  });

  test("format, invisible, private-use and unassigned characters are refused in names and holders", () => {
    const bad = ["ab\u202ecd", "a\u200bb", "a\u200db", "a\u2066b", "\ufeffa", "so\u00adft", "t\u{e0041}g", "a\u2028b", "a\u2029b", "p\ue000u", "q\u{f0000}", "v\ufe0fs", "a\u00a0b", "a\u3000b", "h\u3164f", "n\u0378c", "n\uffffc", "a\u0085b", "\u2800", "a\u2800b", "\u{1d159}", "\u115f\u1160", "\uffa0"];
    for (const n of bad) {
      expect(expectCode(() => validateName(n, DEFAULT_LIMITS, "lock name"), "invalid_request").message).toContain("format or invisible");
      expect(outcome(() => validateHolder(n))).toBe("invalid_request");
    }
    for (const n of ["café", "ключ", "鍵", "a b", "😀", "x.y:z/w-v_u"]) {
      validateName(n, DEFAULT_LIMITS);
      validateHolder(n);
    }
  });

  test("names: no space at either end (so none is blank), and Unicode NFC; prefixes may end in a space", () => {
    for (const n of ["db/password ", " db/password", " ", "   ", "a "]) {
      expect(expectCode(() => validateName(n, DEFAULT_LIMITS, "credential name"), "invalid_request").message).toBe("credential name must not begin or end with a space");
    }
    for (const n of ["cafe\u0301", "\u1100\u1161", "A\u030a"]) {
      expect(expectCode(() => validateName(n, DEFAULT_LIMITS), "invalid_request").message).toContain("normal form C (NFC)");
    }
    for (const n of ["caf\u00e9", "\uac00", "\u00c5", "a b", "db/pass word"]) validateName(n, DEFAULT_LIMITS);
    validatePrefix("db/ ", DEFAULT_LIMITS);
    validatePrefix("cafe\u0301", DEFAULT_LIMITS);
    expectCode(() => validatePrefix("a\u2800", DEFAULT_LIMITS), "invalid_request");
  });

  test("property: validateName agrees with TextEncoder and the control, format and invisible character rule", () => {
    const limits = { ...DEFAULT_LIMITS, maxKeyBytes: 16 };
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const unit = fc.oneof(anyUnit, fc.constantFrom("a", " ", "é", "e\u0301", "€", "😀", "\u202e", "\u200b", "\u00a0", "\ufeff", "\u{e0041}", "\u2800"));
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 20 }), (s) => {
        const wellFormed = (s as unknown as { isWellFormed(): boolean }).isWellFormed();
        const control = /[\u0000-\u001f\u007f-\u009f]/.test(s);
        // Independent of the implementation's regex: the general categories and the property named in limits.ts.
        const invisible = wellFormed && [...s].some((ch) => /\p{Cf}|\p{Co}|\p{Cn}|\p{Zl}|\p{Zp}|\p{Default_Ignorable_Code_Point}|\u2800|\u{1d159}/u.test(ch) || (ch !== " " && /\p{Zs}/u.test(ch)));
        const expected =
          s.length === 0 ? "invalid_request"
          : s.length > 16 ? "too_large"
          : !wellFormed || control || invisible ? "invalid_request"
          : enc.encode(s).length > 16 ? "too_large"
          : s.startsWith(" ") || s.endsWith(" ") || s.normalize("NFC") !== s ? "invalid_request"
          : "ok";
        expect(outcome(() => validateName(s, limits))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
