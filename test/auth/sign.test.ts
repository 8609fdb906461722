/**
 * Request/response signing (PROTOCOL.md §3–4). The worked example below is
 * also printed in docs/PROTOCOL.md; it was cross-checked with
 * `openssl dgst -sha256 -mac HMAC`.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  buildStringToSign,
  computeSignature,
  formatAuthorization,
  hashBody,
  parseAuthorization,
  RequestVerifier,
  signRequest,
  signResponse,
} from "../../src/auth/index.ts";
import { fromHex, randomBytes } from "../../src/crypto/index.ts";

export const EXAMPLE = {
  macKeyHex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  keyId: "w_AAAAAAAAAAAAAAAA",
  method: "PUT",
  target: "/v1/kv/build%2Fid",
  timestamp: 1767225600000,
  nonce: "AAECAwQFBgcICQoLDA0ODw",
  body: '{"value":"hello","ttl_ms":60000}',
  bodyHash: "7dc6655449c21ae44de5fb2861f6c99e3a72c1dc865ea0f728be7710851fef54",
  signature: "pXWONKznEehAYURDB3CmG3S26Yy1U4SjUXPCpLO2cCA",
  responseBody: '{"expires_at":1767225660000}',
  responseSignature: "Mv6ZnFQTgj7Li23OoCmGQAlUwpAmIJFsI_NXTk6Xak8",
};

describe("worked example", () => {
  const key = fromHex(EXAMPLE.macKeyHex);
  test("string to sign and signature", () => {
    expect(hashBody(EXAMPLE.body)).toBe(EXAMPLE.bodyHash);
    const sts = buildStringToSign(EXAMPLE.method, EXAMPLE.target, EXAMPLE.timestamp, EXAMPLE.nonce, EXAMPLE.bodyHash);
    expect(sts).toBe(
      `HUSH1-HMAC-SHA256\nPUT\n/v1/kv/build%2Fid\n1767225600000\nAAECAwQFBgcICQoLDA0ODw\n${EXAMPLE.bodyHash}`,
    );
    expect(computeSignature(key, sts)).toBe(EXAMPLE.signature);
    const s = signRequest(key, EXAMPLE.keyId, EXAMPLE, { now: EXAMPLE.timestamp, nonce: EXAMPLE.nonce });
    expect(s.signature).toBe(EXAMPLE.signature);
    expect(s.authorization).toBe(
      `HUSH1-HMAC-SHA256 Credential=${EXAMPLE.keyId}, Timestamp=${EXAMPLE.timestamp}, Nonce=${EXAMPLE.nonce}, Signature=${EXAMPLE.signature}`,
    );
  });
  test("response signature", () => {
    expect(signResponse(key, EXAMPLE.signature, 200, EXAMPLE.responseBody)).toBe(EXAMPLE.responseSignature);
  });
  test("empty body hashes as the empty string", () => {
    expect(hashBody(undefined)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hashBody(new Uint8Array(0))).toBe(hashBody(""));
  });
});

describe("Authorization header parser", () => {
  const good = formatAuthorization({ keyId: EXAMPLE.keyId, timestamp: 5, nonce: EXAMPLE.nonce, signature: EXAMPLE.signature });
  test("accepts the canonical form", () => {
    expect(parseAuthorization(good)).toEqual({ keyId: EXAMPLE.keyId, timestamp: 5, nonce: EXAMPLE.nonce, signature: EXAMPLE.signature });
  });
  test.each([
    ["empty", ""],
    ["wrong scheme", good.replace("HUSH1-HMAC-SHA256", "HUSH2-HMAC-SHA256")],
    ["reordered", good.replace(/Timestamp=5, Nonce=(\S+),/, "Nonce=$1, Timestamp=5,")],
    ["no space after comma", good.replace(", Nonce", ",Nonce")],
    ["extra parameter", good + ", Extra=1"],
    ["leading zero timestamp", good.replace("Timestamp=5", "Timestamp=05")],
    ["negative timestamp", good.replace("Timestamp=5", "Timestamp=-5")],
    ["short nonce", good.replace(EXAMPLE.nonce, EXAMPLE.nonce.slice(1))],
    ["padded signature", good.replace(EXAMPLE.signature, EXAMPLE.signature + "=")],
    ["non-canonical nonce tail", good.replace(EXAMPLE.nonce, EXAMPLE.nonce.slice(0, -1) + "x")],
    ["bad key id", good.replace(EXAMPLE.keyId, "x_AAAAAAAAAAAAAAAA")],
  ])("refuses %s", (_n, h) => {
    expect(parseAuthorization(h)).toBeNull();
  });
  test("property: arbitrary strings never throw and canonical headers round-trip", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const p = parseAuthorization(s);
        if (p) expect(formatAuthorization(p)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("RequestVerifier", () => {
  const now = 1_800_000_000_000;
  const mk = () => {
    let t = now;
    const key = { id: "w_BBBBBBBBBBBBBBBB", macKey: randomBytes(32), expiresAt: now + 3600_000, revokedAt: null as number | null };
    const v = new RequestVerifier({ lookup: (id) => (id === key.id ? key : undefined), now: () => t, windowMs: 60_000, nonceCacheMax: 100 });
    const sign = (method = "POST", target = "/v1/kv/a", body = '{"value":1}', opts: { now?: number; nonce?: string } = {}) =>
      signRequest(key.macKey, key.id, { method, target, body }, { now: opts.now ?? t, nonce: opts.nonce });
    return { key, v, sign, setNow: (x: number) => (t = x) };
  };

  test("a good request passes once; the replay is refused", () => {
    const { v, sign } = mk();
    const s = sign();
    expect(syncVerify(v, "POST", "/v1/kv/a", s.authorization, hashBody('{"value":1}')).ok).toBe(true);
    expect(syncVerify(v, "POST", "/v1/kv/a", s.authorization, hashBody('{"value":1}'))).toMatchObject({ ok: false, reason: "replayed_nonce" });
  });
  test.each([
    ["method", (s: string) => ["PUT", "/v1/kv/a", s, hashBody('{"value":1}')]],
    ["target", (s: string) => ["POST", "/v1/kv/b", s, hashBody('{"value":1}')]],
    ["query", (s: string) => ["POST", "/v1/kv/a?x=1", s, hashBody('{"value":1}')]],
    ["body", (s: string) => ["POST", "/v1/kv/a", s, hashBody('{"value":2}')]],
    ["timestamp", (s: string) => ["POST", "/v1/kv/a", s.replace(/Timestamp=(\d+)/, (_m, d) => `Timestamp=${Number(d) + 1}`), hashBody('{"value":1}')]],
    ["signature", (s: string) => ["POST", "/v1/kv/a", s.replace(/Signature=(.)/, (_m, c) => `Signature=${c === "A" ? "B" : "A"}`), hashBody('{"value":1}')]],
  ])("tampered %s → bad_signature", (_n, f) => {
    const { v, sign } = mk();
    const [m, t, a, h] = f(sign().authorization) as [string, string, string, string];
    expect(syncVerify(v, m, t, a, h)).toMatchObject({ ok: false, reason: "bad_signature" });
  });
  test("skew beyond the window is refused, inside it accepted", () => {
    const { v, sign } = mk();
    expect(syncVerify(v, "POST", "/v1/kv/a", sign(undefined, undefined, undefined, { now: now - 60_001 }).authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "stale_timestamp" });
    expect(syncVerify(v, "POST", "/v1/kv/a", sign(undefined, undefined, undefined, { now: now + 60_001 }).authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "stale_timestamp" });
    expect(syncVerify(v, "POST", "/v1/kv/a", sign(undefined, undefined, undefined, { now: now - 60_000 }).authorization, hashBody('{"value":1}')).ok).toBe(true);
  });
  test("unknown, revoked and expired keys are refused", () => {
    const { v, sign, key, setNow } = mk();
    const other = signRequest(key.macKey, "w_CCCCCCCCCCCCCCCC", { method: "GET", target: "/v1/whoami" }, { now });
    expect(syncVerify(v, "GET", "/v1/whoami", other.authorization, hashBody(""))).toMatchObject({ reason: "unknown_key" });
    key.revokedAt = now;
    expect(syncVerify(v, "POST", "/v1/kv/a", sign().authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "revoked" });
    key.revokedAt = null;
    setNow(key.expiresAt);
    expect(syncVerify(v, "POST", "/v1/kv/a", sign().authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "expired_key" });
  });
  test("malformed header", () => {
    const { v } = mk();
    expect(syncVerify(v, "GET", "/", null, hashBody(""))).toMatchObject({ reason: "malformed" });
    expect(syncVerify(v, "GET", "/", "Bearer x", hashBody(""))).toMatchObject({ reason: "malformed" });
  });
  test("a full replay cache answers nonce_cache_full (fail closed), never accepts unchecked", () => {
    const { v, sign } = mk();
    for (let i = 0; i < 100; i++) expect(syncVerify(v, "POST", "/v1/kv/a", sign().authorization, hashBody('{"value":1}')).ok).toBe(true);
    expect(syncVerify(v, "POST", "/v1/kv/a", sign().authorization, hashBody('{"value":1}'))).toMatchObject({ ok: false, reason: "nonce_cache_full" });
  });
  test("nonces are forgotten only after their timestamp leaves the window", () => {
    const { v, sign, setNow } = mk();
    const s = sign();
    expect(syncVerify(v, "POST", "/v1/kv/a", s.authorization, hashBody('{"value":1}')).ok).toBe(true);
    setNow(now + 60_000);
    expect(syncVerify(v, "POST", "/v1/kv/a", s.authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "replayed_nonce" });
    setNow(now + 60_001);
    expect(syncVerify(v, "POST", "/v1/kv/a", s.authorization, hashBody('{"value":1}'))).toMatchObject({ reason: "stale_timestamp" });
  });
});

/** The in-memory replay cache answers synchronously. */
function syncVerify(v: { verify(...a: [string, string, string | null, string]): unknown }, ...a: [string, string, string | null, string]): any {
  const r = v.verify(...a);
  if (r instanceof Promise) throw new Error("the in-memory verifier answered with a promise");
  return r;
}
