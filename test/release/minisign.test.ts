/**
 * release/minisign.ts: the minisign file formats, checked against vectors
 * made by the reference tool (minisign 0.11) and, where it is installed,
 * against the real `minisign` binary in both directions.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  encodePublicKey,
  formatPublicKeyFile,
  formatSecretKeyFile,
  generateKeyPair,
  keyIdHex,
  loadReleaseKey,
  parsePublicKey,
  parseSecretKey,
  signFile,
  verifyFile,
  writeSecretFile,
} from "../../release/minisign.ts";
import { tempDir } from "../_tmp.ts";

const ROOT = resolve(import.meta.dir, "../..");
const MINISIGN = Bun.which("minisign");
if (!MINISIGN) console.warn("test/release: skipping the minisign interop tests: `minisign` is not installed (apt-get install minisign)");

const dir = tempDir("hush-minisign-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// TEST VECTOR ONLY — a throwaway key made with `minisign -G -W` (minisign 0.11),
// the prehashed signature `minisign -S` made of "hello\n", and a legacy
// (`-S -l`) one. Never used for anything else.
const V = {
  secretKey:
    "untrusted comment: minisign encrypted secret key\n" +
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA9MALLe9JLN2uIbf4P94pWaGSHmqNha4pB5q4ALoB6b6D4KJkLx0BYLO9ehafqWfw4uN2WSzpPqwUrSvPU+w+QHBI/0tsonN3AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
  publicKeyFile: "untrusted comment: minisign public key DD2C49EF2D0BC0F4\nRWT0wAst70ks3bO9ehafqWfw4uN2WSzpPqwUrSvPU+w+QHBI/0tsonN3\n",
  message: "hello\n",
  signature:
    "untrusted comment: signature from minisign secret key\n" +
    "RUT0wAst70ks3QmbvaFT08pKig1aRI98JlhXciPcS2boSrAs8FFBPlEPx10IW/j0nANXao3xG4pvhwl1MtneC81vavUkJG+9DAE=\n" +
    "trusted comment: timestamp:1795660143\tfile:f\thashed\n" +
    "hnPPKmglu3cFEMfSWt3j8sy8ChCAvNDubwPQj93E3ELlb2X+asfgaDe5Y+/aGmlrsF7iyDlNAy7oNby38p8YBQ==\n",
  legacySignature:
    "untrusted comment: signature from minisign secret key\n" +
    "RWT0wAst70ks3aWirU4FjzTtOCaezPfnfQMlJAOZ9e8EJ+Kn2GPoOmuI3fh4kqn4SEvpnf9Kpi+Q3AggFhkuVwAa1Wlb065ucAE=\n" +
    "trusted comment: legacy vector\n" +
    "QmdI3rNQgalgRGfaCMk4L0jyC8fJdNmjSSqtCgRwl8RQHg2OInbo6w1BXxT6QsfvQqzYMlLcLVrlRdBKq5VVCg==\n",
};
const enc = (s: string) => new TextEncoder().encode(s);

describe("minisign formats (vectors from minisign 0.11)", () => {
  test("reads a `minisign -G -W` secret key; its public key and key id match minisign's", () => {
    const kp = parseSecretKey(V.secretKey);
    expect(keyIdHex(kp.keyId)).toBe("DD2C49EF2D0BC0F4");
    expect(formatPublicKeyFile(kp)).toBe(V.publicKeyFile);
  });

  test("signs byte-for-byte as minisign does (Ed25519 is deterministic)", () => {
    const kp = parseSecretKey(V.secretKey);
    const sig = signFile(kp, enc(V.message), { fileName: "f", timestamp: 1795660143, untrustedComment: "signature from minisign secret key" });
    expect(sig).toBe(V.signature);
  });

  test("verifies minisign's prehashed and legacy signatures; rejects tampering", () => {
    const pk = parsePublicKey(V.publicKeyFile);
    expect(verifyFile(pk, enc(V.message), V.signature).trustedComment).toBe("timestamp:1795660143\tfile:f\thashed");
    expect(verifyFile(pk, enc(V.message), V.legacySignature).trustedComment).toBe("legacy vector");
    expect(() => verifyFile(pk, enc("hello!"), V.signature)).toThrow("signature verification failed");
    expect(() => verifyFile(pk, enc(V.message), V.signature.replace("file:f", "file:g"))).toThrow("comment signature verification failed");
    expect(() => verifyFile(parsePublicKey(encodePublicKey(generateKeyPair())), enc(V.message), V.signature)).toThrow(/made by key DD2C49EF2D0BC0F4/);
  });

  test("secret key files round-trip; corrupt and encrypted keys are refused without echoing the key", () => {
    const kp = generateKeyPair();
    const text = formatSecretKeyFile(kp);
    const back = parseSecretKey(text);
    expect(back.seed).toEqual(kp.seed);
    expect(back.keyId).toEqual(kp.keyId);
    expect(parseSecretKey(text.split("\n")[1]).publicKey).toEqual(kp.publicKey); // base64 line alone (CI secret)
    const b = Buffer.from(text.split("\n")[1], "base64");
    b[100] ^= 1; // inside sk: the checksum no longer matches
    expect(() => parseSecretKey(b.toString("base64"))).toThrow("checksum mismatch");
    const sc = Buffer.from(text.split("\n")[1], "base64");
    sc.write("Sc", 2, "latin1");
    try {
      parseSecretKey(sc.toString("base64"));
      throw new Error("accepted an encrypted key");
    } catch (e) {
      expect((e as Error).message).toContain("encrypted with a password");
      expect((e as Error).message).not.toContain(sc.toString("base64").slice(20, 60));
    }
    expect(() => parseSecretKey("not a key")).toThrow("secret key: not base64");
  });

  test("comments must be one line (minisign cuts at CR/LF)", () => {
    const kp = generateKeyPair();
    expect(() => signFile(kp, enc("x"), { trustedComment: "a\nb" })).toThrow("one line");
    expect(() => signFile(kp, enc("x"), { untrustedComment: "a\rb" })).toThrow("one line");
    expect(() => signFile(kp, enc("x"), { trustedComment: "x".repeat(9000) })).toThrow("longer than");
  });

  test("writeSecretFile creates exclusively with mode 0600; loadReleaseKey reads file or HUSH_RELEASE_KEY", () => {
    const kp = generateKeyPair();
    const p = join(dir, "release.key");
    writeSecretFile(p, formatSecretKeyFile(kp));
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(() => writeSecretFile(p, "other")).toThrow(/EEXIST/);
    expect(loadReleaseKey(p, {})!.publicKey).toEqual(kp.publicKey);
    expect(loadReleaseKey(undefined, { HUSH_RELEASE_KEY: formatSecretKeyFile(kp) })!.publicKey).toEqual(kp.publicKey);
    expect(loadReleaseKey(undefined, {})).toBeUndefined();
  });

  test("`minisign.ts generate` writes a 0600 key, prints only the public key, never overwrites", () => {
    const p = join(dir, "gen.key");
    const run = () => Bun.spawnSync([process.execPath, "release/minisign.ts", "generate", "--secret-key-file", p], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const r = run();
    expect(r.exitCode).toBe(0);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    const secretLine = readFileSync(p, "utf8").split("\n")[1];
    const out = r.stdout.toString() + r.stderr.toString();
    expect(out).not.toContain(secretLine);
    expect(out).not.toContain(secretLine.slice(84, 124)); // base64 of the seed (bytes 62..94)
    expect(r.stdout.toString().trim()).toBe(encodePublicKey(parseSecretKey(readFileSync(p, "utf8"))));
    const again = run();
    expect(again.exitCode).not.toBe(0);
    expect(readFileSync(p, "utf8").split("\n")[1]).toBe(secretLine);
  });
});

describe.skipIf(!MINISIGN)("interop with the real minisign binary", () => {
  test("minisign verifies our signature and rejects a tampered file", () => {
    const kp = generateKeyPair();
    const m = join(dir, "interop.txt");
    writeFileSync(m, "some release notes\n");
    writeFileSync(m + ".minisig", signFile(kp, readFileSync(m), { fileName: "interop.txt" }));
    const ok = Bun.spawnSync([MINISIGN!, "-Vm", m, "-P", encodePublicKey(kp)], { stdout: "pipe", stderr: "pipe" });
    expect(ok.stderr.toString() + ok.stdout.toString()).toContain("Signature and comment signature verified");
    expect(ok.exitCode).toBe(0);
    writeFileSync(m, "some release notes!\n");
    const bad = Bun.spawnSync([MINISIGN!, "-Vm", m, "-P", encodePublicKey(kp)], { stdout: "pipe", stderr: "pipe" });
    expect(bad.exitCode).not.toBe(0);
  });

  test("a key from `minisign -G -W` signs here; a key from here signs with `minisign -S`", () => {
    const pub = join(dir, "ms.pub");
    const key = join(dir, "ms.key");
    const g = Bun.spawnSync([MINISIGN!, "-G", "-W", "-p", pub, "-s", key], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    expect(g.exitCode).toBe(0);
    const m = join(dir, "interop2.txt");
    writeFileSync(m, "x".repeat(100_000));
    writeFileSync(m + ".minisig", signFile(parseSecretKey(readFileSync(key, "utf8")), readFileSync(m), { fileName: "interop2.txt" }));
    expect(Bun.spawnSync([MINISIGN!, "-Vm", m, "-p", pub], { stdout: "pipe", stderr: "pipe" }).exitCode).toBe(0);

    const ours = generateKeyPair();
    const ourKey = join(dir, "ours.key");
    writeSecretFile(ourKey, formatSecretKeyFile(ours));
    const s = Bun.spawnSync([MINISIGN!, "-S", "-s", ourKey, "-m", m, "-x", m + ".2.minisig", "-t", "signed by minisign"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    expect(s.exitCode).toBe(0);
    expect(verifyFile(ours, readFileSync(m), readFileSync(m + ".2.minisig", "utf8")).trustedComment).toBe("signed by minisign");
    expect(existsSync(m + ".2.minisig")).toBe(true);
  });
});
