/**
 * Downgrades (issue 12 follow-up, finding 1): an attacker who can write the
 * audit file and holds the format-1 audit PUBLIC key (hush 0.1.0 kept it on
 * the host) rewrites every format-2 run of a migrated file as format 1 (a k0
 * of their own boxed to that key, format-1 seals), drops the lines they do
 * not like and re-chains; or strips every seal and sealing field. Whenever
 * the verification key is given, the verifier must find format-2 seals
 * covering everything from the first format-2 run on, so both are refused —
 * also with the format-1 key given as well (the documented way to verify a
 * migrated file) and with --allow-unsealed. A daemon also refuses to append
 * an unsealed run to a file sealed in format 2, so a real file never has one.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { x25519PublicKey } from "../../src/crypto/index.ts";
import { AuditWriter, lineHash, verifyAuditLog } from "../../src/audit/index.ts";
import { hush, startDaemon } from "../e2e/_harness.ts";
import { tryServe } from "./_serve.ts";
import { makeSealing } from "./_sealing.ts";
import { downgradeFormat2 } from "./_attack.ts";
import { tempDir } from "../_tmp.ts";

const FIX = resolve(import.meta.dir, "fixtures");
const V1_LOG = join(FIX, "v1-sealed.jsonl");
const V1_KEY = decodeKeyString(HRP.auditSecret, parseKeyFile(readFileSync(join(FIX, "v1-audit.key"), "utf8")), "k");
/** What hush 0.1.0 kept on the host: the format-1 public key (`hushaudit1…`). */
const V1_PUB = x25519PublicKey(V1_KEY);
const root = tempDir("hush-audit-dg-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const V1_KEY_FILE = join(root, "v1-audit.key");
copyFileSync(join(FIX, "v1-audit.key"), V1_KEY_FILE);
chmodSync(V1_KEY_FILE, 0o600); // git keeps no 0600 mode
const split = (t: string) => t.trimEnd().split("\n");
const text = (ls: string[]) => ls.join("\n") + "\n";
/** A worker issued: `admin.workers` in files of older daemons (the format-1 fixture), `admin.workers.issue` now. */
const isAdminWorkers = (o: any) => o.type === "event" && (o.action === "admin.workers" || o.action === "admin.workers.issue");

describe("a migrated file (format-1 runs, then format-2 runs) rewritten by an attacker", () => {
  const path = join(root, "mixed.log");
  copyFileSync(V1_LOG, path);
  const sl = makeSealing(root);
  for (let run = 0; run < 2; run++) {
    const w = AuditWriter.open({ path, sealing: sl.load(), sealEvery: 3 });
    for (let i = 0; i < 4; i++) w.record({ actor: "admin-socket", via: "admin", action: i % 2 ? "admin.workers" : "kv.get", target: `w_${i}`, result: "ok" });
    w.close();
  }
  const MIXED = split(readFileSync(path, "utf8"));
  const BOTH = { verifyKey: sl.seed, auditSecretKey: V1_KEY };

  test("the real file verifies with both keys, --closed", () => {
    expect(verifyAuditLog(text(MIXED), { ...BOTH, requireClosed: true }).ok).toBe(true);
  });
  test("format-2 runs turned into format 1, admin.workers lines dropped: refused with both keys", () => {
    const forged = downgradeFormat2(MIXED, V1_PUB, isAdminWorkers);
    expect(forged.length).toBeLessThan(MIXED.length);
    // The forgery is good format 1: the format-1 key alone accepts it (format 1's known weakness).
    expect(verifyAuditLog(text(forged), { auditSecretKey: V1_KEY, requireClosed: true }).ok).toBe(true);
    for (const opts of [BOTH, { ...BOTH, requireClosed: true }, { ...BOTH, allowUnsealedRuns: true }, { verifyKey: sl.seed }]) {
      const r = verifyAuditLog(text(forged), opts);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toMatch(/no run of this file is sealed in format 2/);
    }
  });
  test("every seal and sealing field stripped, re-chained: refused with the verification key, even with --allow-unsealed", () => {
    const forged = downgradeFormat2(MIXED, null, isAdminWorkers);
    for (const opts of [{ verifyKey: sl.seed, allowUnsealedRuns: true }, { ...BOTH, allowUnsealedRuns: true, requireClosed: true }]) {
      const r = verifyAuditLog(text(forged), opts);
      expect(r.ok).toBe(false);
      expect(r.error!.reason).toMatch(/no run of this file is sealed in format 2/);
    }
  });
  test("only the last format-2 run rewritten (format 1, or stripped): refused at its start line, also without a key", () => {
    const lastStart = MIXED.map((l) => JSON.parse(l).type).lastIndexOf("start");
    const keep = MIXED.slice(0, lastStart);
    for (const pub of [V1_PUB, null]) {
      const forged = rechainAfter(keep, downgradeFormat2(MIXED.slice(lastStart), pub));
      for (const opts of [{}, BOTH, { ...BOTH, allowUnsealedRuns: true }]) {
        const r = verifyAuditLog(text(forged), opts);
        expect(r.ok).toBe(false);
        expect(r.error).toMatchObject({ seq: lastStart + 1, reason: expect.stringMatching(/after runs sealed in format 2: a downgrade/) });
      }
    }
  });
  test("a file of format-1 runs only, with the verification key given: refused, and told to verify it with the format-1 key alone", () => {
    const r = verifyAuditLog(readFileSync(V1_LOG, "utf8"), BOTH);
    expect(r.ok).toBe(false);
    expect(r.error!.reason).toMatch(/no run of this file is sealed in format 2.*verify it with the format-1 key alone/);
    expect(verifyAuditLog(readFileSync(V1_LOG, "utf8"), { auditSecretKey: V1_KEY }).ok).toBe(true);
  });
  test("an empty file, with the verification key given: refused (a sealed daemon's first lines are its start and start seal)", () => {
    expect(verifyAuditLog("", { verifyKey: sl.seed }).error?.reason).toMatch(/no run of this file is sealed in format 2/);
  });
});

/** A directory for a daemon's sockets (removed by its cleanup()). */
function daemonDir(dir: string): string {
  const d = join(dir, "d");
  mkdirSync(d, { mode: 0o700 });
  return d;
}

/** Re-chain `tail` (renumbered, new prev) after `head`. */
function rechainAfter(head: string[], tail: string[]): string[] {
  const out = head.slice();
  let prev = lineHash(out.at(-1)!);
  for (const l of tail) {
    const o = JSON.parse(l);
    o.seq = out.length + 1;
    o.prev = prev;
    const s = JSON.stringify(o);
    prev = lineHash(s);
    out.push(s);
  }
  return out;
}

describe("through the binary: a format-1 file migrated by dist/hush serve, then downgraded", () => {
  test("audit verify --key-file V --key-file V1 --closed exits 1 on the forgery; the real file exits 0", async () => {
    const dir = join(root, "bin");
    mkdirSync(dir, { mode: 0o700 });
    const log = join(dir, "audit.jsonl");
    copyFileSync(V1_LOG, log);
    chmodSync(log, 0o600);
    const key = join(dir, "audit.verify");
    const state = join(dir, "audit.state");
    expect((await hush(["keygen", "audit", "--out", key, "--state-out", state])).code).toBe(0);
    const d = await startDaemon(["--audit-file", log, "--audit-state-file", state], { dir: daemonDir(dir) });
    try {
      await d.issue("evil-1");
      await d.issue("evil-2");
      expect(await d.stop()).toBe(0);
    } finally {
      d.cleanup();
    }
    const real = split(readFileSync(log, "utf8"));
    const issued = (ls: string[]) => ls.filter((l) => isAdminWorkers(JSON.parse(l))).length;
    expect(issued(real)).toBe(issued(split(readFileSync(V1_LOG, "utf8"))) + 2);
    const ok = await hush(["audit", "verify", "--file", log, "--key-file", key, "--key-file", V1_KEY_FILE, "--closed"]);
    expect(ok.code).toBe(0);

    const forged = join(dir, "forged.jsonl");
    writeFileSync(forged, text(downgradeFormat2(real, V1_PUB, isAdminWorkers)), { mode: 0o600 });
    const chainOnly = await hush(["audit", "verify", "--file", forged, "--key-file", V1_KEY_FILE, "--closed"]);
    expect(chainOnly.code).toBe(0); // format 1 alone cannot tell: that is what the verification key is for
    const r = await hush(["audit", "verify", "--file", forged, "--key-file", key, "--key-file", V1_KEY_FILE, "--closed"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hush: error: audit log broken.*no run of this file is sealed in format 2/);

    const stripped = join(dir, "stripped.jsonl");
    writeFileSync(stripped, text(downgradeFormat2(real, null, isAdminWorkers)), { mode: 0o600 });
    const s = await hush(["audit", "verify", "--file", stripped, "--key-file", key, "--allow-unsealed"]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/no run of this file is sealed in format 2/);
  });

  test("serve without --audit-state-file refuses to append an unsealed run to a file sealed in format 2", async () => {
    const dir = join(root, "unsealed");
    mkdirSync(dir, { mode: 0o700 });
    const log = join(dir, "audit.jsonl");
    const state = join(dir, "audit.state");
    expect((await hush(["keygen", "audit", "--out", join(dir, "v"), "--state-out", state])).code).toBe(0);
    const d = await startDaemon(["--audit-file", log, "--audit-state-file", state], { dir: daemonDir(dir) });
    expect(await d.stop()).toBe(0);
    d.cleanup();
    const before = readFileSync(log, "utf8");
    const { code, stderr } = await tryServe(["--socket", join(dir, "d2", "hush.sock"), "--audit-file", log]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/hush: error: audit file .* is sealed \(format 2, key id [\w-]{12}\): start the daemon with --audit-state-file/);
    expect(readFileSync(log, "utf8")).toBe(before);
  });
});
