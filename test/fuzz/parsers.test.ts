/**
 * Property tests over every parser that sees attacker-controlled input
 * (DESIGN.md invariant 8, the hardening issue's "fuzz and property tests"):
 *
 * - the `Authorization` header parser never throws and round-trips exactly;
 * - key and token string decoders throw nothing but `HushError` and never
 *   echo their input (invariant 2: a mistyped secret must not reach a log);
 * - the Noise responder, fed arbitrary bytes as message 1, only throws
 *   `HushError("auth_failed")`;
 * - the server's JSON body parser only throws `HushError("invalid_request")`,
 *   whatever the bytes, including nesting deep enough to blow a recursive
 *   parser's stack;
 * - the metrics route label comes from a small fixed set for any path, so a
 *   client cannot create unbounded metric cardinality.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { formatAuthorization, parseAuthorization, type AuthParams } from "../../src/auth/header.ts";
import { randomBytes, toB64u, utf8, x25519PublicKey } from "../../src/crypto/index.ts";
import { HushError } from "../../src/errors.ts";
import {
  HRP,
  decodeCredential,
  decodeJoinToken,
  decodeKeyString,
  decodeServerPublic,
  encodeCredential,
  encodeJoinToken,
  encodeKeyString,
  encodeServerPublic,
  formatKeyId,
  formatTokenId,
} from "../../src/keys/index.ts";
import { MAX_MESSAGE_LEN, createInitiator, createResponder } from "../../src/noise/index.ts";
import { parseObject } from "../../src/server/http.ts";
import { routeLabel } from "../../src/server/metrics.ts";

/** Fixed seed: a failure is reproducible; fast-check prints the counterexample and its path. */
const SEED = 0x5eed_f022;
const runs = (numRuns: number) => ({ seed: SEED, numRuns });

// ---- arbitraries --------------------------------------------------------------

/** Any string: arbitrary code points including lone surrogates, controls, NUL. */
const anyString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: "binary-ascii", maxLength: 300 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
);
const b64uChar = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
const b64uString = (n: number) => fc.string({ unit: b64uChar, minLength: n, maxLength: n });

/** Valid header parameters, built from random bytes the way a client does. */
const authParams: fc.Arbitrary<AuthParams> = fc.record({
  keyId: fc.tuple(fc.constantFrom("w_", "a_"), b64uString(16)).map(([p, s]) => p + s),
  timestamp: fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, 1, Date.now(), Number.MAX_SAFE_INTEGER)),
  nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toB64u),
  signature: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toB64u),
});

/** One edit of a string: delete, insert, replace, flip case, truncate, pad. */
function mutate(s: string): fc.Arbitrary<string> {
  const at = fc.nat({ max: Math.max(0, s.length - 1) });
  const ch = fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 3 }), fc.constantFrom(" ", ",", "=", "\t", "\n", "\0", "1", "é", "\uD800", "%"));
  return fc.oneof(
    at.map((i) => s.slice(0, i) + s.slice(i + 1)),
    fc.tuple(at, ch).map(([i, c]) => s.slice(0, i) + c + s.slice(i)),
    fc.tuple(at, ch).map(([i, c]) => s.slice(0, i) + c + s.slice(i + 1)),
    at.map((i) => {
      const c = s[i] ?? "";
      return s.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(i + 1);
    }),
    at.map((i) => s.slice(0, i)),
    fc.tuple(ch, ch).map(([a, b]) => a + s + b),
  );
}

// ---- Authorization ------------------------------------------------------------

describe("parseAuthorization", () => {
  test("never throws on arbitrary input; anything it accepts formats back to the same bytes", () => {
    expect(parseAuthorization(null)).toBeNull();
    expect(parseAuthorization("")).toBeNull();
    fc.assert(
      fc.property(anyString, (s) => {
        const p = parseAuthorization(s);
        if (p !== null) expect(formatAuthorization(p)).toBe(s);
      }),
      runs(3000),
    );
  });

  test("round trip: parse(format(p)) = p for every valid parameter set", () => {
    fc.assert(
      fc.property(authParams, (p) => {
        expect(parseAuthorization(formatAuthorization(p))).toEqual(p);
      }),
      runs(2000),
    );
  });

  test("any single edit of a valid header parses to null or to a header that formats back exactly", () => {
    fc.assert(
      fc.property(
        authParams.chain((p) => mutate(formatAuthorization(p)).map((m) => [p, m] as const)),
        ([p, m]) => {
          const q = parseAuthorization(m);
          if (q === null) return;
          expect(formatAuthorization(q)).toBe(m);
          // An edit that still parses changed exactly the value it touched: never the scheme or layout.
          expect(m.startsWith("HUSH1-HMAC-SHA256 Credential=")).toBe(true);
          expect(q.keyId.length + q.nonce.length + q.signature.length).toBe(p.keyId.length + p.nonce.length + p.signature.length);
        },
      ),
      runs(3000),
    );
  });

  test("non-canonical base64url tails, unsafe timestamps and reordered parameters are refused", () => {
    const p: AuthParams = { keyId: "w_AAAAAAAAAAAAAAAA", timestamp: 1, nonce: toB64u(new Uint8Array(16)), signature: toB64u(new Uint8Array(32)) };
    const good = formatAuthorization(p);
    expect(parseAuthorization(good)).toEqual(p);
    expect(parseAuthorization(good.replace(p.nonce, p.nonce.slice(0, 21) + "B"))).toBeNull();
    expect(parseAuthorization(good.replace(p.signature, p.signature.slice(0, 42) + "B"))).toBeNull();
    expect(parseAuthorization(good.replace("Timestamp=1", "Timestamp=9007199254740992"))).toBeNull();
    expect(parseAuthorization(good.replace("Timestamp=1", "Timestamp=01"))).toBeNull();
    expect(parseAuthorization(good.replace("Timestamp=1", "Timestamp=-1"))).toBeNull();
    expect(parseAuthorization(good.replace(", Nonce", ",Nonce"))).toBeNull();
    expect(parseAuthorization(good + ", Extra=1")).toBeNull();
    expect(parseAuthorization(good.replace("HUSH1", "hush1"))).toBeNull();
    expect(parseAuthorization(good + "\n")).toBeNull();
    expect(parseAuthorization(" " + good)).toBeNull();
  });
});

// ---- key and token strings ---------------------------------------------------

type Decoder = { name: string; hrp: string; decode: (s: string) => unknown; valid: () => string };

const workerCred = () =>
  encodeCredential({ kind: "worker", keyId: formatKeyId("worker", randomBytes(12)), macKey: randomBytes(32), encKey: randomBytes(32), serverPublic: randomBytes(32) });
const adminCred = () =>
  encodeCredential({
    kind: "admin",
    keyId: formatKeyId("admin", randomBytes(12)),
    macKey: randomBytes(32),
    encKey: randomBytes(32),
    serverPublic: randomBytes(32),
    tlsPin: randomBytes(32),
  });
const joinToken = () => encodeJoinToken({ tokenId: formatTokenId(randomBytes(9)), psk: randomBytes(32), serverPublic: randomBytes(32) });

const decoders: Decoder[] = [
  { name: "decodeCredential (worker)", hrp: HRP.worker, decode: decodeCredential, valid: workerCred },
  { name: "decodeCredential (admin)", hrp: HRP.admin, decode: decodeCredential, valid: adminCred },
  { name: "decodeJoinToken", hrp: HRP.join, decode: decodeJoinToken, valid: joinToken },
  { name: "decodeServerPublic", hrp: HRP.serverPublic, decode: decodeServerPublic, valid: () => encodeServerPublic(randomBytes(32)) },
  { name: "decodeKeyString (audit secret)", hrp: HRP.auditSecret, decode: (s) => decodeKeyString(HRP.auditSecret, s, "audit secret key"), valid: () => encodeKeyString(HRP.auditSecret, randomBytes(32)) },
];

const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/** Inputs for one decoder: arbitrary strings, bech32-shaped strings, edits of valid ones, valid checksums over wrong payloads. */
function keyInputs(d: Decoder): fc.Arbitrary<string> {
  const secret = d.hrp !== d.hrp.toLowerCase();
  const data = fc.string({ unit: fc.constantFrom(...BECH32), minLength: 6, maxLength: 260 });
  const caseOf = (s: string) => (secret ? s.toUpperCase() : s);
  return fc.oneof(
    anyString,
    data.map((x) => caseOf(d.hrp.toLowerCase() + "1" + x)),
    fc.constantFrom(...Object.values(HRP)).chain((h) => data.map((x) => (h !== h.toLowerCase() ? (h + "1" + x).toUpperCase() : h + "1" + x))),
    fc.constant(null).chain(() => mutate(d.valid())),
    fc.constant(null).chain(() => mutate(d.valid()).chain(mutate)),
    fc.uint8Array({ maxLength: 200 }).map((b) => encodeKeyString(d.hrp, b)),
    fc.constantFrom(...Object.values(HRP)).chain((h) => fc.uint8Array({ maxLength: 160 }).map((b) => encodeKeyString(h, b))),
    fc.constant(null).map(() => d.valid().toLowerCase()),
    fc.constant(null).map(() => " \t" + d.valid() + "\n"),
  );
}

/** Windows of the input's data part long enough to be meaningful as an echo. */
function echoWindows(input: string, len = 10): string[] {
  const s = input.trim();
  const data = s.slice(s.lastIndexOf("1") + 1);
  const out: string[] = [];
  for (let i = 0; i + len <= data.length; i += 3) out.push(data.slice(i, i + len));
  return out;
}

describe("key and token string decoders", () => {
  for (const d of decoders) {
    test(`${d.name}: only HushError, a bounded message vocabulary, never an echo of the input`, () => {
      const messages = new Set<string>();
      fc.assert(
        fc.property(keyInputs(d), (input) => {
          let err: unknown;
          try {
            d.decode(input);
            return;
          } catch (e) {
            err = e;
          }
          expect(err).toBeInstanceOf(HushError);
          const e = err as HushError;
          expect(e.code).toBe("invalid_request");
          expect(e.message.length).toBeLessThan(120);
          // Naming the prefix the decoder expects ("not a HUSH-WORKER-1… string") is not an echo.
          const said = Object.values(HRP).reduce((m, h) => m.replaceAll(`${h}1…`, ""), e.message);
          for (const w of echoWindows(input)) expect(said).not.toContain(w);
          for (const w of echoWindows(input.toLowerCase())) expect(said.toLowerCase()).not.toContain(w);
          messages.add(e.message);
        }),
        runs(2500),
      );
      // The message depends on the kind of mistake only, never on the bytes typed.
      expect(messages.size).toBeGreaterThan(1);
      expect(messages.size).toBeLessThanOrEqual(12);
    });
  }

  test("valid strings decode; a string of one kind is refused as another", () => {
    for (const d of decoders) expect(() => d.decode(d.valid())).not.toThrow();
    expect(() => decodeJoinToken(workerCred())).toThrow(HushError);
    expect(() => decodeCredential(joinToken())).toThrow(HushError);
    expect(() => decodeServerPublic(encodeKeyString(HRP.auditPublic, randomBytes(32)))).toThrow(HushError);
  });
});

// ---- Noise ------------------------------------------------------------------------

describe("Noise responder.readMessage1", () => {
  const server = (() => {
    const secretKey = randomBytes(32);
    return { secretKey, publicKey: x25519PublicKey(secretKey) };
  })();
  const psk = randomBytes(32);
  const prologue = utf8("hush/1 join\nt_AAAAAAAAAAAA");
  const fromHex = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
  // Low-order and non-canonical X25519 points (Noise §12.1: must fail, never yield a weak key).
  const lowOrder = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ].map(fromHex);

  function expectAuthFailed(msg: Uint8Array) {
    const r = createResponder({ staticKey: server, psk, prologue });
    let err: unknown;
    try {
      r.readMessage1(msg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HushError);
    expect((err as HushError).code).toBe("auth_failed");
    if (msg.length >= 12) expect((err as HushError).message).not.toContain(toB64u(msg).slice(0, 16));
    // A failed handshake is abandoned: any further call is refused (internal: caller bug), never a decrypt.
    expect(() => r.readMessage1(msg)).toThrow(HushError);
  }

  const message = fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    fc.uint8Array({ minLength: 48, maxLength: 400 }),
    fc.constantFrom(...lowOrder).chain((e) => fc.uint8Array({ minLength: 16, maxLength: 80 }).map((rest) => Uint8Array.from([...e, ...rest]))),
  );

  test("arbitrary bytes only ever throw HushError(auth_failed)", () => {
    fc.assert(fc.property(message, expectAuthFailed), runs(1500));
  });

  test("length edges: empty, 47, 48, MAX_MESSAGE_LEN and one past it", () => {
    for (const n of [0, 1, 31, 32, 47, 48, MAX_MESSAGE_LEN, MAX_MESSAGE_LEN + 1, 1 << 20]) expectAuthFailed(randomBytes(n));
  });

  test("a genuine message 1 with any edit (truncate, extend, flip) is refused with auth_failed", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 3 }), (payload, at, kind) => {
        const m = createInitiator({ remoteStatic: server.publicKey, psk, prologue }).writeMessage1(payload);
        const i = at % m.length;
        const edited =
          kind === 0 ? m.subarray(0, i) : kind === 1 ? Uint8Array.from([...m, at & 255]) : kind === 2 ? m.map((b, j) => (j === i ? b ^ (1 << (at & 7)) : b)) : Uint8Array.from([...m.subarray(0, i), ...m.subarray(i + 1)]);
        expectAuthFailed(edited);
      }),
      runs(400),
    );
  });
});

// ---- JSON bodies ----------------------------------------------------------------------

function expectParseObject(bytes: Uint8Array): Record<string, unknown> | HushError {
  try {
    const v = parseObject(bytes);
    expect(typeof v).toBe("object");
    expect(v).not.toBeNull();
    expect(Array.isArray(v)).toBe(false);
    return v;
  } catch (e) {
    expect(e).toBeInstanceOf(HushError);
    expect((e as HushError).code).toBe("invalid_request");
    return e as HushError;
  }
}

/** Bracket nesting of a parsed value. */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== "object") return 0;
  let m = 0;
  for (const x of Object.values(v as object)) m = Math.max(m, depthOf(x));
  return 1 + m;
}

/** A nested document: `depth` openers chosen by `shape`, closed in order. */
const nested = fc.record({ depth: fc.integer({ min: 1, max: 20_000 }), shape: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), close: fc.boolean() }).map(({ depth, shape, close }) => {
  let open = "";
  const closers: string[] = [];
  for (let i = 0; i < depth; i++) {
    const obj = shape[i % shape.length];
    open += obj ? '{"k":' : "[";
    closers.push(obj ? "}" : "]");
  }
  return { depth, text: open + "1" + (close ? closers.reverse().join("") : "") };
});

describe("parseObject (server JSON bodies)", () => {
  test("arbitrary bytes and strings: an object or HushError(invalid_request), nothing else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          anyString.map((s) => new TextEncoder().encode(s)),
          fc.json({ maxDepth: 6 }).map(utf8),
          fc.jsonValue({ maxDepth: 4 }).map((v) => utf8(JSON.stringify({ value: v, ttl_ms: 1 }))),
          fc.constantFrom("{", "}", "[", "{\"a\":", "\"", "\\", "\uFEFF{}", "{}\u0000", "{} {}", "1e999", "{\"a\":1e999}", "{\"__proto__\":{\"x\":1}}").map(utf8),
        ),
        (bytes) => {
          expectParseObject(bytes);
        },
      ),
      runs(4000),
    );
  });

  test("deep nesting never reaches the recursive JSON parser: > 32 levels is invalid_request", () => {
    fc.assert(
      fc.property(nested, ({ depth, text }) => {
        const r = expectParseObject(utf8(text));
        if (depth > 32) {
          expect(r).toBeInstanceOf(HushError);
          expect((r as HushError).message).toContain("nested");
        }
      }),
      runs(300),
    );
    // A MiB of openers: refused quickly, no RangeError.
    const r = expectParseObject(new Uint8Array(1 << 20).fill(0x5b));
    expect((r as HushError).code).toBe("invalid_request");
  });

  test("brackets inside strings do not count; valid objects up to 32 levels parse to exactly JSON.parse", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 8 }), { maxKeys: 6 }), fc.string({ unit: fc.constantFrom("[", "{", "]", "}", "\\", '"', "a"), maxLength: 60 }), (obj, noise) => {
        const doc = { ...obj, s: noise };
        const text = JSON.stringify(doc);
        const r = expectParseObject(utf8(text));
        if (depthOf(JSON.parse(text)) <= 32) expect(r).toEqual(JSON.parse(text));
        else expect(r).toBeInstanceOf(HushError);
      }),
      runs(1500),
    );
  });

  test("prototype keys stay own data: no pollution of Object.prototype", () => {
    const v = parseObject(utf8('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"value":1}'));
    expect(Object.prototype.hasOwnProperty.call(v, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(({} as any).polluted).toBeUndefined();
    expect((Object.prototype as any).polluted).toBeUndefined();
  });
});

// ---- metrics route labels ---------------------------------------------------------

const LABELS = new Set([
  "metrics",
  "unknown",
  "kv",
  "kv_incr",
  "kv_ttl",
  "kv_claim",
  "locks",
  "pools",
  "whoami",
  "health",
  "ready",
  "admin",
  "join",
  "rekey",
  "creds",
  "admin_workers",
  "admin_stats",
  "admin_tokens",
  "admin_creds",
  "admin_audit",
  "admin_server-key",
]);

describe("routeLabel", () => {
  const seg = fc.oneof(
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.constantFrom("", "v1", "kv", "incr", "admin", "metrics", "locks", "pools", "creds", "workers", "stats", "tokens", "audit", "server-key", "__proto__", "constructor", "toString", "hasOwnProperty", "..", "%2e%2e", "V1", "KV"),
  );

  test("arbitrary path segments map into the fixed label set", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 8 }), (parts) => {
        const label = routeLabel(parts);
        expect(LABELS.has(label)).toBe(true);
        seen.add(label);
      }),
      runs(5000),
    );
    expect(seen.size).toBeLessThanOrEqual(LABELS.size);
  });

  test("arbitrary request targets, parsed as the server parses them, map into the fixed label set", () => {
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 8 }), fc.string({ maxLength: 10 }), (parts, q) => {
        const raw = "/" + parts.map((p) => p.replace(/[?#]/g, "")).join("/") + "?" + q;
        // As the server sees it: Bun builds req.url as origin + request target.
        const url = new URL("http://localhost" + raw);
        expect(LABELS.has(routeLabel(url.pathname.split("/")))).toBe(true);
      }),
      runs(3000),
    );
    expect(routeLabel("/v1/kv/a/incr".split("/"))).toBe("kv_incr");
    expect(routeLabel("/v1/admin/__proto__".split("/"))).toBe("admin");
    expect(routeLabel("/v1/admin/server-key/prepare".split("/"))).toBe("admin_server-key");
    expect(routeLabel("/metrics".split("/"))).toBe("metrics");
    expect(routeLabel("/metrics/x".split("/"))).toBe("unknown");
  });
});
