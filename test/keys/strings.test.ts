/** Key strings (PROTOCOL.md §2): round trips, case rules, no echo of secrets in errors. */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeCredential, decodeServerPublic, encodeCredential, encodeServerPublic, formatKeyId, formatTokenId, isKeyId, isTokenId, parseKeyFile, formatKeyFile } from "../../src/keys/index.ts";
import { randomBytes } from "../../src/crypto/index.ts";

const cred = () => ({
  kind: "worker" as const,
  keyId: formatKeyId("worker", randomBytes(12)),
  macKey: randomBytes(32),
  encKey: randomBytes(32),
  serverPublic: randomBytes(32),
});

describe("credentials", () => {
  test("round trip, with and without a TLS pin", () => {
    for (const c of [cred(), { ...cred(), tlsPin: randomBytes(32) }, { ...cred(), kind: "admin" as const, keyId: formatKeyId("admin", randomBytes(12)) }]) {
      const s = encodeCredential(c);
      expect(s.startsWith(c.kind === "admin" ? "HUSH-ADMIN-1" : "HUSH-WORKER-1")).toBe(true);
      expect(s).toBe(s.toUpperCase());
      expect(decodeCredential(s)).toEqual({ ...c, tlsPin: (c as any).tlsPin });
    }
  });
  test("mixed case, a changed character and the wrong prefix are refused, and the error never echoes the input", () => {
    const s = encodeCredential(cred());
    const li = s.slice(13).search(/[A-Z]/) + 13; // a letter in the data part
    const bad = [s.slice(0, li) + s[li].toLowerCase() + s.slice(li + 1), s.slice(0, 30) + (s[30] === "Q" ? "P" : "Q") + s.slice(31), s.replace("HUSH-WORKER-", "HUSH-WORKEX-")];
    for (const b of bad) {
      let msg = "";
      try {
        decodeCredential(b);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).not.toBe("");
      expect(msg).not.toContain(b.slice(13, 40));
    }
  });
  test("property: random strings never decode to a credential by accident and never throw non-HushErrors", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 250 }), (s) => {
        try {
          decodeCredential(s);
          return false;
        } catch (e) {
          return (e as Error).name === "HushError";
        }
      }),
    );
  });
});

test("server public key is lower case hushpub1…", () => {
  const pk = randomBytes(32);
  const s = encodeServerPublic(pk);
  expect(s.startsWith("hushpub1")).toBe(true);
  expect(decodeServerPublic(s)).toEqual(pk);
  expect(() => decodeServerPublic(s.toUpperCase())).toThrow();
});

test("ids", () => {
  const k = formatKeyId("worker", randomBytes(12));
  expect(k).toHaveLength(18);
  expect(isKeyId(k)).toBe(true);
  const t = formatTokenId(randomBytes(9));
  expect(t).toHaveLength(14);
  expect(isTokenId(t)).toBe(true);
});

test("key files: header lines are skipped", () => {
  const txt = formatKeyFile("HUSH-WORKER-1ABC", { kind: "worker credential", publicKey: "hushpub1xyz" });
  expect(txt).toContain("# created: ");
  expect(txt).toContain("# public key: hushpub1xyz");
  expect(parseKeyFile(txt)).toBe("HUSH-WORKER-1ABC");
});
