/**
 * The format-2 sealing test values of PROTOCOL.md §10.4, computed
 * independently with Python's `hmac` and `hashlib` (HKDF written out from
 * RFC 5869) and checked here against src/audit, so a verifier written from
 * the document alone and this implementation agree.
 */
import { expect, test } from "bun:test";
import { toHex } from "../../src/crypto/index.ts";
import { HRP, decodeKeyString, encodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { SealChain, epochSealKey, evolveSealState, formatSealStateFile, initialSealState, lineHash, parseSealStateFile, sealKeyId, sealMacV2, verifyAuditLog } from "../../src/audit/index.ts";

const SEED = new Uint8Array(32).map((_, i) => i);
const V = {
  keyId: "p7j21JD5ElCT",
  s0: "ecb4f8fc6921cdea7b321467e65cdb1d71930421fb7464e7dff97d727fe3d7fa",
  k0: "472ac853b0b40061217b366693ade7f1fa2c9f8cd0d2311ce6623876c7ceaea3",
  s1: "a4a4f35b7e922a15b276917605e34459192f6876c6a311561d55d74f8cfbb3da",
  k1: "6de0b6fe01020ae3e708da8811cb44b82daae1304395fad5cb3dd97961968a9b",
  prev: "LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE", // b64u(SHA-256("x"))
  mac0: "CxnTO4Fz1hhpByKVPbKlibusyh62ROdusUFkHJtXkig", // seq 2, epoch 0, ts 1767225600000
  mac1: "0ooz9QLSaq5CyLg0E5p1u68TJeedLsw9ltb03yWjr1Y", // seq 9, epoch 1, ts 1767225600000
  line: '{"seq":2,"ts":1767225600000,"type":"seal","prev":"LXEWQrcmsEQBYnyp-6wy9chTD7GQPMTbAiWHF5IaSIE","key_id":"p7j21JD5ElCT","epoch":0,"mac":"CxnTO4Fz1hhpByKVPbKlibusyh62ROdusUFkHJtXkig"}',
  nextPrev: "vGMnHE0ZEv1ISJQ3KplM5jN7y10QELy-Uowagi_kuTI",
  verifyKey: "HUSH-AUDIT-VERIFY-1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARC0S5PY8JJ",
  state0: "HUSH-AUDIT-STATE-1QGQQQQQQQQQQQQ98HRMDFY8EZFGF8M95LR7XJGWDAFANY9R8UEWDK8T3JVZZR7M5VNNAL7TAWFL784L6YLFQGV",
  stateRaw: "020000000000000000a7b8f6d490f9125093ecb4f8fc6921cdea7b321467e65cdb1d71930421fb7464e7dff97d727fe3d7fa",
};

test("key id, S_0, K_0, S_1, K_1 from the seed 00 01 … 1f", () => {
  expect(sealKeyId(SEED)).toBe(V.keyId);
  const s0 = initialSealState(SEED);
  expect(toHex(s0)).toBe(V.s0);
  expect(toHex(epochSealKey(s0))).toBe(V.k0);
  const s1 = evolveSealState(s0);
  expect(toHex(s1)).toBe(V.s1);
  expect(toHex(epochSealKey(s1))).toBe(V.k1);
  const chain = new SealChain(SEED);
  expect(toHex(chain.keyAt(1))).toBe(V.k1);
  expect(() => chain.keyAt(0)).toThrow(RangeError); // the walk never goes back
});

test("seal MACs and the seal line", () => {
  const [k0, k1] = [epochSealKey(initialSealState(SEED)), epochSealKey(evolveSealState(initialSealState(SEED)))];
  expect(sealMacV2(k0, V.keyId, 2, 0, V.prev, 1767225600000)).toBe(V.mac0);
  expect(sealMacV2(k1, V.keyId, 9, 1, V.prev, 1767225600000)).toBe(V.mac1);
  expect(JSON.stringify({ seq: 2, ts: 1767225600000, type: "seal", prev: V.prev, key_id: V.keyId, epoch: 0, mac: V.mac0 })).toBe(V.line);
  expect(lineHash(V.line)).toBe(V.nextPrev);
});

test("the key strings: verification key and the state file at epoch 0", () => {
  expect(encodeKeyString(HRP.auditVerify, SEED)).toBe(V.verifyKey);
  const text = formatSealStateFile(0, V.keyId, initialSealState(SEED));
  expect(parseKeyFile(text)).toBe(V.state0);
  expect(toHex(decodeKeyString(HRP.auditState, V.state0, "state"))).toBe(V.stateRaw);
  expect(parseSealStateFile(text)).toMatchObject({ epoch: 0, keyId: V.keyId });
});

test("a two-line file made of these values verifies with the seed, and only with it", () => {
  const start = JSON.stringify({ seq: 1, ts: 1767225600000, type: "start", prev: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", v: 2, key_id: V.keyId, epoch: 0 });
  const prev = lineHash(start);
  const seal = JSON.stringify({ seq: 2, ts: 1767225600000, type: "seal", prev, key_id: V.keyId, epoch: 0, mac: sealMacV2(epochSealKey(initialSealState(SEED)), V.keyId, 2, 0, prev, 1767225600000) });
  expect(verifyAuditLog(`${start}\n${seal}\n`, { verifyKey: SEED })).toMatchObject({ ok: true, vouched: { toSeq: 2, epochs: { from: 0, to: 0 } }, nextEpoch: 1 });
  expect(verifyAuditLog(`${start}\n${seal}\n`, { verifyKey: new Uint8Array(32) }).ok).toBe(false);
});
