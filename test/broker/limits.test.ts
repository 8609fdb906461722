import { describe, test, expect } from "bun:test";
import fc from "fast-check";
import { DEFAULT_LIMITS, resolveLimits, validateName } from "../../src/broker/index.ts";
import { expectCode, outcome } from "./_helpers.ts";

describe("limits", () => {
  test("secure defaults", () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxItems: 10_000,
      maxValueBytes: 256 * 1024,
      maxKeyBytes: 256,
      ttlRequired: true,
      maxTtlMs: 30 * 24 * 3600_000,
      maxPoolSize: 1024,
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
      "lock name must be valid UTF-8 without control characters",
    );
    validateName("x".repeat(256), DEFAULT_LIMITS);
  });

  test("property: validateName agrees with TextEncoder and the control-character rule", () => {
    const limits = { ...DEFAULT_LIMITS, maxKeyBytes: 16 };
    const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    const unit = fc.oneof(anyUnit, fc.constantFrom("a", "é", "€", "😀"));
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 20 }), (s) => {
        const wellFormed = (s as unknown as { isWellFormed(): boolean }).isWellFormed();
        const control = /[\u0000-\u001f\u007f-\u009f]/.test(s);
        const expected =
          s.length === 0 ? "invalid_request"
          : s.length > 16 ? "too_large"
          : !wellFormed || control ? "invalid_request"
          : enc.encode(s).length > 16 ? "too_large"
          : "ok";
        expect(outcome(() => validateName(s, limits))).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
