/**
 * Migration from format-1 sealing (hush 0.1.0: a random k0 per run, boxed
 * to an X25519 audit public key). `fixtures/v1-sealed.jsonl` was written by
 * the 0.1.0 AuditWriter and sealed to the test key in
 * `fixtures/v1-audit.key` (a test fixture, not a secret of anything).
 * Format-1 files still verify as before, with a warning that their seals are
 * weaker; a daemon of this version appends format-2 runs to such a file, and
 * the first format-2 seal then covers the format-1 lines before it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { randomBytes, toB64u, x25519PublicKey } from "../../src/crypto/index.ts";
import { sealBox } from "../../src/crypto/box.ts";
import { AuditWriter, K0_BOX_CONTEXT, ZERO_PREV, lineHash, ratchetKey, sealMac, verifyAuditLog } from "../../src/audit/index.ts";
import { hush } from "../e2e/_harness.ts";
import { makeSealing } from "./_sealing.ts";
import { tempDir } from "../_tmp.ts";

const FIX = resolve(import.meta.dir, "fixtures");
const V1_LOG = join(FIX, "v1-sealed.jsonl");
const V1_KEY = decodeKeyString(HRP.auditSecret, parseKeyFile(readFileSync(join(FIX, "v1-audit.key"), "utf8")), "k");
const V1 = readFileSync(V1_LOG, "utf8");
const root = tempDir("hush-audit-m-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
// git keeps no 0600 mode; a key file with looser permissions draws a warning of its own.
const V1_KEY_FILE = join(root, "v1-audit.key");
copyFileSync(join(FIX, "v1-audit.key"), V1_KEY_FILE);
chmodSync(V1_KEY_FILE, 0o600);
const lines = (t: string) => t.trimEnd().split("\n");

/** Format 1's weakness: re-chain and re-seal every run with a k0 of one's own, boxed to the public key. */
function resealV1(ls: string[], pub: Uint8Array): string[] {
  let prev = ZERO_PREV;
  let key: Uint8Array = new Uint8Array(32);
  return ls.map((l, i) => {
    const o = JSON.parse(l);
    o.seq = i + 1;
    o.prev = prev;
    if (o.type === "start") {
      key = randomBytes(32);
      o.key = toB64u(sealBox(pub, key, K0_BOX_CONTEXT));
    }
    if (o.type === "seal") {
      o.mac = sealMac(key, o.seq, o.epoch, prev, o.ts);
      key = ratchetKey(key);
    }
    const s = JSON.stringify(o);
    prev = lineHash(s);
    return s;
  });
}

describe("a format-1 file", () => {
  test("verifies as before with its secret key, with a warning that its seals are weaker", () => {
    const r = verifyAuditLog(V1, { auditSecretKey: V1_KEY, requireClosed: true });
    expect(r).toMatchObject({ ok: true, runs: 2, sealsChecked: true, closed: true, unsealedTail: 0, vouched: null, nextEpoch: null });
    expect(r.runList.map((x) => [x.sealing, x.checked])).toEqual([["v1", true], ["v1", true]]);
    expect(r.warnings.join()).toMatch(/old sealing \(format 1, hush 0\.1\.0\), whose seals are weaker: anyone with the audit public key can re-seal such a run/);
    // A changed line still breaks it.
    const ls = lines(V1);
    ls[3] = ls[3].replace('"t', '"T');
    expect(verifyAuditLog(ls.join("\n") + "\n", { auditSecretKey: V1_KEY }).ok).toBe(false);
  });
  test("the warning is earned: an edit re-sealed with the public key alone still verifies", () => {
    const ls = lines(V1);
    ls[3] = ls[3].replace('"actor":"w_', '"actor":"w_evil');
    const forged = resealV1(ls, x25519PublicKey(V1_KEY)).join("\n") + "\n";
    expect(verifyAuditLog(forged, { auditSecretKey: V1_KEY, requireClosed: true }).ok).toBe(true);
  });
  test("a verification key alone cannot check it, and says so", () => {
    const r = verifyAuditLog(V1, { verifyKey: randomBytes(32) });
    expect(r.ok).toBe(false);
    expect(r.error!.reason).toMatch(/no run of this file is sealed in format 2 although the verification key was given \(its runs use format 1/);
  });
  test("through the binary: exit 0, and the warning on stderr", async () => {
    const r = await hush(["audit", "verify", "--file", V1_LOG, "--key-file", V1_KEY_FILE, "--closed"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("lines checked: 22 (2 runs)");
    expect(r.stderr).toMatch(/^hush: warning: runs at seq 1, 13 use the old sealing \(format 1/);
  });
});

describe("format-2 runs appended to a format-1 file", () => {
  const path = join(root, "mixed.log");
  copyFileSync(V1_LOG, path);
  const sl = makeSealing(root);
  for (let run = 0; run < 2; run++) {
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 3 });
    for (let i = 0; i < 4; i++) w.record({ actor: `w_new${i}`, action: "kv.get", result: "ok" });
    w.close();
  }
  const MIXED = readFileSync(path, "utf8");
  const v1Lines = lines(V1).length;

  test("verify with the verification key: the format-1 lines are covered by the first format-2 seal", () => {
    const r = verifyAuditLog(MIXED, { verifyKey: sl.seed, requireClosed: true });
    expect(r).toMatchObject({ ok: true, runs: 4, closed: true, vouched: { toSeq: lines(MIXED).length, epochs: { from: 0 } } });
    expect(r.runList.map((x) => x.sealing)).toEqual(["v1", "v1", "v2", "v2"]);
    expect(r.warnings.join()).toMatch(/not checked: no format-1 key given\); every line of them is also covered by the verified format-2 seal/);
    const both = verifyAuditLog(MIXED, { verifyKey: sl.seed, auditSecretKey: V1_KEY, requireClosed: true });
    expect(both.runList.map((x) => x.checked)).toEqual([true, true, true, true]);
  });
  test("an edit in a format-1 run, re-sealed the format-1 way, is caught by the format-2 seal after it", () => {
    const ls = lines(MIXED);
    ls[3] = ls[3].replace('"actor":"w_', '"actor":"w_evil');
    const head = resealV1(ls.slice(0, v1Lines), x25519PublicKey(V1_KEY));
    let prev = lineHash(head.at(-1)!);
    const rest = ls.slice(v1Lines).map((l) => {
      const o = JSON.parse(l);
      o.prev = prev;
      const s = JSON.stringify(o);
      prev = lineHash(s);
      return s;
    });
    const forged = [...head, ...rest].join("\n") + "\n";
    expect(verifyAuditLog(forged, { auditSecretKey: V1_KEY, allowUnsealedRuns: true }).ok).toBe(false); // format-2 runs need their key
    const r = verifyAuditLog(forged, { verifyKey: sl.seed });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ seq: v1Lines + 2, reason: expect.stringMatching(/seal of epoch 0 does not verify/) });
  });
  test("the format-1 key alone is told to use the verification key", () => {
    const r = verifyAuditLog(MIXED, { auditSecretKey: V1_KEY });
    expect(r.error).toMatchObject({ seq: v1Lines + 1, reason: expect.stringMatching(/sealed in format 2: verify it with its verification key/) });
  });
  test("a format-1 run after format-2 runs is a downgrade", () => {
    const ls = lines(MIXED);
    const run1 = lines(V1).slice(0, 12);
    let prev = lineHash(ls.at(-1)!);
    const tail = run1.map((l, i) => {
      const o = JSON.parse(l);
      o.seq = ls.length + i + 1;
      o.prev = prev;
      const s = JSON.stringify(o);
      prev = lineHash(s);
      return s;
    });
    const r = verifyAuditLog([...ls, ...tail].join("\n") + "\n");
    expect(r.error).toMatchObject({ seq: ls.length + 1, reason: expect.stringMatching(/format 1 .* after runs sealed in format 2: a downgrade/) });
  });
  test("the daemon refuses the removed --audit-key and says how to migrate", async () => {
    const r = await hush(["serve", "--socket", join(root, "run", "hush.sock"), "--audit-file", path, "--audit-key", "hushaudit1qqqq"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--audit-key \(format-1 sealing to an X25519 public key\) was removed.*hush keygen audit --out audit\.verify --state-out STATE/);
    expect(readFileSync(path, "utf8")).toBe(MIXED);
  });
});
