/**
 * Property tests of the log masker: for random secrets and random
 * surrounding text, no registered secret survives masking in any of the
 * forms the masker promises (encoders written here independently of
 * mask-forms.ts), and masking never throws.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { Masker } from "../../src/observe/mask.ts";

const RUNS = 150;

/** Secrets: any Unicode text of 6+ code units without `*` (the mask itself could otherwise spell one). */
const secretArb = fc.string({ unit: "binary", minLength: 6, maxLength: 80 }).filter((s) => !s.includes("*") && s.trim().length >= 6);
const textArb = fc.string({ unit: "binary", maxLength: 60 });

const enc = new TextEncoder();
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

/** Encoders of a well-formed string (lone surrogates make encodeURIComponent throw; they are tested below). */
const encoders: Record<string, (s: string) => string> = {
  raw: (s) => s,
  json: (s) => JSON.stringify(s).slice(1, -1),
  uriComponent: (s) => encodeURIComponent(s),
  rfc3986,
  rfc3986Lower: (s) => rfc3986(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
  formUrlencoded: (s) => new URLSearchParams({ v: s }).toString().slice(2),
  hex: (s) => Buffer.from(s).toString("hex"),
  hexUpper: (s) => Buffer.from(s).toString("hex").toUpperCase(),
  base64: (s) => Buffer.from(s).toString("base64"),
  base64url: (s) => Buffer.from(s).toString("base64url"),
  xml: (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;"),
};

/** No lone surrogate (String.prototype.isWellFormed, not in this project's TypeScript lib). */
const wellFormed = (s: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

test("no registered secret survives masking in any promised form, whatever surrounds it", () => {
  fc.assert(
    fc.property(fc.array(secretArb.filter(wellFormed), { minLength: 1, maxLength: 4 }), textArb, textArb, fc.constantFrom(...Object.keys(encoders)), (secrets, before, after, how) => {
      const m = new Masker();
      for (const s of secrets) m.add(s);
      for (const s of secrets) {
        const form = encoders[how](s);
        const out = m.mask(before + form + after);
        expect(out.includes(form)).toBe(false);
      }
    }),
    { numRuns: RUNS },
  );
});

test("base64 of a secret after any prefix, wrapped at 76 columns or not: no character made of the secret's bits alone survives", () => {
  fc.assert(
    fc.property(secretArb.filter(wellFormed), fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 10 }), fc.boolean(), (secret, prefix, suffix, wrap) => {
      const m = new Masker();
      m.add(secret);
      const bytes = enc.encode(secret);
      const stream = Buffer.from(new Uint8Array([...prefix, ...bytes, ...suffix])).toString("base64");
      const from = Math.ceil((prefix.length * 8) / 6);
      const to = Math.floor(((prefix.length + bytes.length) * 8) / 6);
      const text = wrap ? stream.replace(/(.{76})/g, "$1\n") : stream;
      const out = m.mask(text).split("\n");
      // Walk the output lines against the input lines: every secret character is inside a `***` run.
      const lines = text.split("\n");
      expect(out.length).toBe(lines.length);
      lines.forEach((line, i) => {
        const a = Math.max(from - i * 76 * (wrap ? 1 : 0), 0);
        const b = Math.min(to - i * 76 * (wrap ? 1 : 0), line.length);
        if (a < b) {
          expect(out[i]).toContain("***");
          // A slice of 4+ characters must be gone from the line; a shorter one (a line's first or
          // last characters of the secret) could occur again by chance in the text around it, so
          // it must only be gone from its own place.
          if (b - a >= 4) expect(out[i].includes(line.slice(a, b))).toBe(false);
          else expect(out[i].startsWith(line.slice(0, b)) || (b === line.length && out[i].endsWith(line.slice(a)))).toBe(false);
        }
      });
    }),
    { numRuns: RUNS },
  );
});

test("each line of a multi-line secret is masked on its own", () => {
  const lineArb = fc.string({ unit: "grapheme-ascii", minLength: 6, maxLength: 30 }).filter((l) => !/[*\s]/.test(l));
  fc.assert(
    fc.property(fc.array(lineArb, { minLength: 2, maxLength: 5 }), fc.constantFrom("\n", "\r\n", "\r", "\u2028"), textArb, (lines, sep, around) => {
      const m = new Masker();
      m.add(lines.join(sep));
      for (const l of lines) expect(m.mask(around + l + around).includes(l)).toBe(false);
    }),
    { numRuns: RUNS },
  );
});

test("masking never throws and registration never fails, for any secrets (lone surrogates included) and any text", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ unit: "binary" }), fc.uint8Array()), { maxLength: 5 }), fc.string({ unit: "binary", maxLength: 200 }), (secrets, text) => {
      const m = new Masker();
      for (const s of secrets) m.add(s);
      const out = m.mask(text);
      expect(typeof out).toBe("string");
      expect(m.failures).toBe(0);
      for (const s of secrets) if (typeof s === "string" && s.length >= 6 && !s.includes("*")) expect(m.mask(text + s + text).includes(s)).toBe(false);
    }),
    { numRuns: RUNS },
  );
});
