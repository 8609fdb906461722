/**
 * The log masker, as vectors: cases ported from the GitHub Actions runner's
 * masker tests (HostContextL0.DefaultSecretMaskers, SecretMaskerL0) and the
 * Azure Pipelines agent's (SecretMaskerL0), adapted to hush's shortest
 * masked form of 6 characters, plus the gaps found against them (URL
 * encodings, wrapped base64, line separators, overlaps) and the masker's
 * lifetime rules (owners, deadlines, shared forms).
 */
import { describe, expect, test } from "bun:test";
import { encodedForms, Masker, WITHHELD } from "../../src/observe/mask.ts";

function masker(...secrets: (string | Uint8Array)[]): Masker {
  const m = new Masker();
  for (const s of secrets) m.add(s);
  return m;
}

const b64 = (s: string | Uint8Array) => Buffer.from(s as any).toString("base64");

describe("ported: actions/runner HostContextL0.DefaultSecretMaskers", () => {
  const m = masker("Password123!", 'Pass"word"123!', "Pass word 123!", "Pass<word>123!", "Pass'word'123!", '"Password123!!"', '"short"');
  test.each([
    ["123Password123!123", "123***123"],
    ["password123", "password123"],
    ['123Pass\\"word\\"123!123', "123***123"], // command-line escaped quotes
    ["123Pass%20word%20123%21123", "123***123"], // Uri.EscapeDataString (RFC 3986)
    ["123Pass&lt;word&gt;123!123", "123***123"], // XML
    ["123Pass''word''123!123", "123***123"], // expression string escape
    ["123Password123!!123", "123***123"], // surrounding quotes trimmed
    ["123short123", "123short123"], // shorter than 6 once unquoted
    ['123"short"123', "123***123"],
  ])("%j → %j", (input, out) => expect(m.mask(input)).toBe(out));

  // The runner keeps the characters before the secret's own (e.g. "OlBh***");
  // hush also masks the characters made only of the secret's first bytes.
  test.each([
    [":", "Ol***Q=="],
    ["a:", "YTp***E="],
    ["ab:", "YWI6***"],
    ["abc:", "YWJjOl***Q=="],
    ["abcd:", "YWJjZDp***E="],
    ["abcde:", "YWJjZGU6***"],
  ])("base64(%j + secret) → %j", (prefix, out) => expect(m.mask(b64(prefix + "Password123!"))).toBe(out));
});

describe("ported: SecretMaskerL0 (runner and Azure agent), secrets lengthened to 6+", () => {
  test.each([
    [["defDEF"], "abcdefDEFg", "abc***g"], // basic replacement
    [["defDEF"], "abcdefDEFgdefDEF", "abc***g***"], // multiple instances
    [["abcABC"], "abcABCabcABCdef", "***def"], // adjacent instances
    [["bcdBCD", "fghFGH"], "abcdBCDefghFGHi", "a***e***i"], // multiple secrets
    [["defDEF", "bcdBCDdef"], "abcdBCDdefDEFg", "a***g"], // overlapping: no naive order leaves either
    [["efgEFG", "bcdBCD"], "abcdBCDefgEFGh", "a***h"], // adjacent secrets are one run
    [["short"], "a short word", "a short word"], // below the minimum length
  ])("%j in %j → %j", (secrets, input, out) => expect(masker(...secrets).mask(input)).toBe(out));

  test("empty input and no secrets", () => {
    expect(masker("abcdefg").mask("")).toBe("");
    expect(new Masker().mask("abcdefg")).toBe("abcdefg");
  });

  test("JSON string escape (Azure SecretMaskerTests_Encoder_JsonStringEscape)", () => {
    const s = 'carriage-return\r_newline\n_tab\t_backslash\\_double-quote"';
    const m = masker(s);
    expect(m.mask(s)).toBe("***");
    expect(m.mask(JSON.stringify(s).slice(1, -1))).toBe("***");
    expect(m.mask(JSON.stringify({ v: s }))).toBe('{"v":"***"}');
  });

  test("combined encodings of a secret with quotes, backslashes or <>&: JSON in JSON, base64, hex and URL of JSON, \\u escapes", () => {
    const s = 'pa"ss\\w<o>rd&1';
    const m = masker(s);
    const u = (c: string) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    const doc = JSON.stringify({ p: s });
    expect(m.mask(JSON.stringify(doc))).toBe('"{\\"p\\":\\"***\\"}"'); // JSON inside JSON
    expect(m.mask(b64(doc))).toBe("eyJwIjoi***SJ9");
    expect(m.mask(Buffer.from(doc).toString("hex"))).toBe("7b2270223a22***227d");
    expect(m.mask(encodeURIComponent(doc))).toBe("%7B%22p%22%3A%22***%22%7D");
    expect(m.mask(JSON.stringify(s).replace(/[<>&]/g, u))).toBe('"***"'); // Go's HTML-safe JSON
    expect(m.mask([...s].map(u).join(""))).toBe("***"); // every character escaped
    // A secret whose JSON string is itself: no extra forms, the same as before.
    expect(encodedForms("plain-secret-1").length).toBe(encodedForms("plain-secret-2").length);
  });

  test("URI data escape, spaces and surrogate pairs (Azure UriDataEscape cases)", () => {
    for (const s of ["hello world", "      ", "𐐷𐐷𐐷𐐷", " 𐐷𐐷𐐷𐐷"]) {
      const m = masker(s);
      expect(m.mask(s)).toBe("***");
      expect(m.mask(encodeURIComponent(s))).toBe("***");
    }
  });
});

describe("gaps closed against the runner and the Azure agent", () => {
  test("URL encodings: %20 or + for space, RFC 3986 !'()*, lower-case hex, Azure %AZP25", () => {
    const m = masker("Pass word 123!", "it's(a)*secret!", "Pass/word:100%\nline2");
    for (const t of [
      "123Pass%20word%20123%21123",
      "123Pass+word+123%21123", // x-www-form-urlencoded
      "123Pass%20word%20123!123", // encodeURIComponent
      "123it%27s%28a%29%2Asecret%21123",
      "123it's(a)*secret!123",
      "123it%27s%28a%29*secret%21123", // URLSearchParams keeps *
      "123Pass%2fword%3a100%25%0aline2123", // lower-case hex
      "123Pass/word:100%AZP25%0Aline2123", // Azure logging-command escaping
    ]) expect(m.mask(t)).toBe("123***123");
  });

  test("base64 wrapped at 76 columns (the base64 tool): every line carrying the secret's bits is masked", () => {
    const secret = crypto.getRandomValues(new Uint8Array(300));
    const m = masker(secret);
    for (const pre of [0, 1, 2, 5, 57, 100]) {
      for (const nl of ["\n", "\r\n"]) {
        const prefix = new Uint8Array(pre).fill(0x41);
        const stream = b64(new Uint8Array([...prefix, ...secret, ...new TextEncoder().encode("trailer")]));
        const wrapped = stream.replace(/(.{76})/g, `$1${nl}`).replace(/\s+$/, "");
        // The characters made of the secret's bits alone, in the unwrapped stream.
        const from = Math.ceil((pre * 8) / 6);
        const to = Math.floor(((pre + secret.length) * 8) / 6);
        const expected = wrapped
          .split(nl)
          .map((line, i) => {
            const a = Math.max(from - i * 76, 0);
            const b = Math.min(to - i * 76, line.length);
            return a < b ? line.slice(0, a) + "***" + line.slice(b) : line;
          })
          .join(nl);
        expect(m.mask(wrapped)).toBe(expected);
        // The same inside a JSON log line, where the line breaks are escapes.
        expect(m.mask(JSON.stringify({ out: wrapped }))).toBe(JSON.stringify({ out: expected }));
      }
    }
  });

  test("PEM: 64-column base64 of a registered DER key is masked on every line", () => {
    const der = crypto.getRandomValues(new Uint8Array(121));
    const pem = `-----BEGIN PRIVATE KEY-----\n${b64(der).replace(/(.{64})/g, "$1\n").trim()}\n-----END PRIVATE KEY-----`;
    const lines = masker(der).mask(pem).split("\n");
    expect(lines[0]).toBe("-----BEGIN PRIVATE KEY-----");
    expect(lines.slice(1, -1)).toEqual(["***", "***", "***"]);
    expect(lines.at(-1)).toBe("-----END PRIVATE KEY-----");
  });

  test("a multi-line secret is masked line by line, on CR, LF, CRLF, NEL, LS and PS, trimmed", () => {
    const parts = ["line-one-a", "line-two-b", "line-three", "line-four-", "line-five-", "  line-six  "];
    const secret = parts[0] + "\r" + parts[1] + "\n" + parts[2] + "\r\n" + parts[3] + "\u0085" + parts[4] + "\u2028" + parts[5] + "\u2029";
    const m = masker(secret);
    for (const p of parts) expect(m.mask(`> ${p.trim()} <`)).toBe("> *** <");
    expect(m.mask(secret)).toBe("***");
    // Each line in its encodings too (the runner registers every line as a value).
    expect(m.mask(`x ${b64(parts[2])} x`)).toBe("x *** x");
  });

  test("a value of many lines (a certificate bundle): every line raw and escaped, the whole in every form", () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${crypto.randomUUID()}`);
    const value = lines.join("\n");
    const m = masker(value);
    for (const l of [lines[0], lines[77], lines[499]]) {
      expect(m.mask(`[${l}]`)).toBe("[***]");
      expect(m.mask(`[${encodeURIComponent(l)}]`)).toBe("[***]");
    }
    expect(m.mask(`[${b64(value)}]`)).toBe("[***]");
    expect(m.mask(`[${JSON.stringify(value)}]`)).toBe('["***"]');
  });

  test("overlapping and nested secrets leave no character of either", () => {
    const m = masker("secretAAAA1234", "1234BBBBsecret", "AAAA1234BBBB", "cretAA");
    expect(m.mask("x secretAAAA1234BBBBsecret y")).toBe("x *** y");
    expect(m.mask("x cretAAAA1234BBBB y")).toBe("x *** y");
    expect(m.mask("secretAAAA1234BBBB")).toBe("***");
  });

  test("hex, base64url, and the whole padded base64 of bytes", () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const m = masker(key);
    const hex = Buffer.from(key).toString("hex");
    for (const t of [hex, hex.toUpperCase(), b64(key), Buffer.from(key).toString("base64url")]) expect(m.mask(`k=${t};`)).toBe("k=***;");
  });

  test("forms are deduplicated and none is shorter than 6 characters", () => {
    const forms = encodedForms("abcdefgh");
    expect(new Set(forms).size).toBe(forms.length);
    expect(forms.every((f) => f.length >= 6)).toBe(true);
    expect(encodedForms("abc")).toEqual([]);
  });
});

describe("lifetime", () => {
  test("release drops an owner's secrets; a form shared with another owner stays", () => {
    const m = new Masker();
    m.add("shared-secret-1", { owner: "a" });
    m.add("only-a-secret", { owner: "a" });
    m.add("shared-secret-1", { owner: "b" });
    expect(m.release("a")).toBe(2);
    expect(m.mask("shared-secret-1 only-a-secret")).toBe("*** only-a-secret");
    m.release("b");
    expect(m.size).toBe(0);
    expect(m.mask("shared-secret-1")).toBe("shared-secret-1");
  });

  test("deadlines: expire drops what is due; retire moves a deadline earlier for what the owner holds now", () => {
    const m = new Masker();
    m.add("old-credential", { owner: "w", until: 1_000 });
    m.retire("w", 500); // a rekey: the old string stays usable for a grace period
    m.add("new-credential", { owner: "w", until: 2_000 });
    expect(m.expire(499)).toBe(0);
    expect(m.mask("old-credential")).toBe("***");
    expect(m.expire(500)).toBe(1);
    expect(m.mask("old-credential new-credential")).toBe("old-credential ***");
    expect(m.expire(5_000)).toBe(1);
    expect(m.ownerCount).toBe(0);
    expect(m.size).toBe(0);
  });

  test("secrets that share their first characters (one anchor, several lengths) come and go independently", () => {
    const m = new Masker();
    m.add("prefix-one", { owner: "a" });
    m.add("prefix-three", { owner: "b" });
    m.add("prefix-one", { owner: "c" });
    m.add("prefix-", { owner: "d" });
    expect(m.mask("prefix-one prefix-three prefix-x")).toBe("*** *** ***x");
    m.release("d");
    expect(m.mask("prefix-one prefix-three prefix-x")).toBe("*** *** prefix-x");
    m.release("a");
    expect(m.mask("prefix-one prefix-three")).toBe("*** ***");
    m.release("b");
    expect(m.mask("prefix-one prefix-three")).toBe("*** prefix-three");
    m.release("c");
    expect(m.mask("prefix-one")).toBe("prefix-one");
    expect(m.size).toBe(0);
  });

  test("secrets released long before their deadline do not pile up (revoked tokens of a 30-day TTL)", () => {
    const m = new Masker();
    for (let i = 0; i < 5000; i++) {
      m.add(`token-${i}-secret`, { owner: `t${i}`, until: 30 * 86_400_000 });
      m.release(`t${i}`);
    }
    expect(m.size).toBe(0);
    expect((m as any).deadlines.size).toBeLessThanOrEqual(1025);
  });

  test("release before a deadline leaves nothing for expire", () => {
    const m = new Masker();
    m.add("token-string", { owner: "t", until: 10 });
    m.release("t");
    expect(m.expire(100)).toBe(0);
  });
});

describe("never throws", () => {
  test("any value the store accepts registers and masks (256 KiB, lone surrogates, control characters)", () => {
    const big = "v".repeat(100) + crypto.randomUUID().repeat(7000).slice(0, 256 * 1024 - 100);
    const m = new Masker();
    for (const s of [big, "\ud800abcdefgh\udfff", "\u0000\u0001abcdefg\u007f", "", new Uint8Array(0), new Uint8Array(262_144)]) m.add(s);
    expect(m.failures).toBe(0);
    expect(m.mask(`<${big}>`)).toBe("<***>");
    expect(m.mask(`<${b64("xy" + big)}>`)).toMatch(/^<[A-Za-z0-9+/]{2,4}\*\*\*[A-Za-z0-9+/=]{0,4}>$/);
    expect(m.mask("ab\ud800abcdefgh\udfff")).toBe("ab***");
  });

  test("a line the masker fails on is withheld, never written raw", () => {
    const m = masker("some-secret");
    (m as any).index.scan = () => {
      throw new Error("boom");
    };
    expect(m.mask("text with some-secret")).toBe(WITHHELD);
    expect(m.failures).toBe(1);
  });
});
