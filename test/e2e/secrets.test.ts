/**
 * DESIGN.md invariant 2, end to end: a daemon run that uses every feature
 * with known secret values, then a scan of everything written — the
 * daemon's stderr, every CLI command's stderr (and stdout, except where the
 * user asked for the secret), and the audit file — for each secret in raw,
 * base64 (all three byte offsets), base64url, hex, JSON-escaped and
 * URL-encoded form. Zero hits.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { Client } from "../../src/client/index.ts";
import { HRP, decodeCredential, decodeJoinToken, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { epochSealKey, evolveSealState, initialSealState } from "../../src/audit/index.ts";

let d: Daemon;
let dir: string;
const outputs: string[] = []; // text that must hold no secret
const secrets = new Map<string, string | Uint8Array>();
const uid = crypto.randomUUID().slice(0, 8);

/** Every form a secret could leak in (independent of the daemon's masker). */
function forms(secret: string | Uint8Array): string[] {
  const b = typeof secret === "string" ? Buffer.from(secret) : Buffer.from(secret);
  const out = new Set<string>();
  if (typeof secret === "string") {
    out.add(secret);
    out.add(JSON.stringify(secret).slice(1, -1));
    out.add(encodeURIComponent(secret));
    for (const line of secret.split("\n")) if (line.length >= 8) out.add(line);
  }
  out.add(b.toString("hex"));
  out.add(b.toString("hex").toUpperCase());
  out.add(b.toString("base64url").replace(/=+$/, ""));
  for (let pad = 0; pad < 3; pad++) {
    // The secret preceded by `pad` bytes: keep only characters fully inside it.
    const s = Buffer.concat([Buffer.alloc(pad), b]).toString("base64");
    const start = Math.ceil((pad * 8) / 6);
    const end = Math.floor(((pad + b.length) * 8) / 6);
    out.add(s.slice(start, end));
    out.add(s.slice(start, end).replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...out].filter((f) => f.length >= 8);
}

async function run(args: string[], opts: { stdin?: string; env?: Record<string, string | undefined>; secretStdout?: boolean } = {}) {
  const r = await d.cli(args, opts);
  outputs.push(`$ hush ${args.join(" ")}\n${r.stderr}`);
  if (!opts.secretStdout) outputs.push(r.stdout);
  return r;
}

beforeAll(async () => {
  dir = tempDir();
  const auditKey = join(dir, "audit.verify");
  const auditState = join(dir, "audit.state");
  const ak = await hush(["keygen", "audit", "--out", auditKey, "--state-out", auditState]);
  outputs.push(ak.stdout, ak.stderr);
  secrets.set("audit verification key", parseKeyFile(readFileSync(auditKey, "utf8")));
  secrets.set("audit sealing state (epoch 0)", parseKeyFile(readFileSync(auditState, "utf8")));
  // Every sealing state and seal key of the run's epochs, derived from the verification key.
  let st = initialSealState(decodeKeyString(HRP.auditVerify, parseKeyFile(readFileSync(auditKey, "utf8")), "k"));
  for (let n = 0; n < 64; n++, st = evolveSealState(st)) {
    secrets.set(`audit sealing state S_${n}`, st);
    secrets.set(`audit seal key K_${n}`, epochSealKey(st));
  }
  const sk = await hush(["keygen", "server"]);
  const serverKey = parseKeyFile(sk.stdout);
  secrets.set("server key", serverKey);
  const creds = join(dir, "creds.env");
  secrets.set("dotenv value", `dotenv-${uid}-value`);
  writeFileSync(creds, `DB_PASS=dotenv-${uid}-value\n`, { mode: 0o600 });
  secrets.set("env value", `env-${uid}-secret`);
  process.env.HUSH_TEST_API = `env-${uid}-secret`; // read by --cred API=env:HUSH_TEST_API
  secrets.set("exec value", `exec-${uid}-output`);
  d = await startDaemon([
    "--audit-file", join(dir, "audit.jsonl"), "--audit-state-file", auditState, "--audit-seal-every", "3",
    "--creds-file", creds, "--cred-allow", "DB_PASS=ci",
    "--cred", "API=env:HUSH_TEST_API", "--cred-allow", "API=ci",
    "--cred", `GEN=exec:echo exec-${uid}-output`, "--cred-allow", "GEN=*",
  ]);
});
afterAll(() => d?.cleanup());

test("every feature, then no secret in any output, log or audit line, in any encoding", async () => {
  expect(d.log()).toContain("hush: ready");
  // Admin features.
  const w = await run(["workers", "issue", "--name", "scan", "--tags", "ci"], { secretStdout: true });
  const workerCred = w.stdout.trim();
  secrets.set("issued credential", workerCred);
  secrets.set("issued mac key", decodeCredential(workerCred).macKey);
  secrets.set("issued enc key", decodeCredential(workerCred).encKey);
  const tokFile = join(dir, "join.token");
  await run(["token", "create", "--tags", "ci", "--uses", "3", "--out", tokFile]);
  const token = parseKeyFile(readFileSync(tokFile, "utf8"));
  secrets.set("join token", token);
  secrets.set("join psk", decodeJoinToken(token).psk);
  const adminCred = join(dir, "admin.cred");
  await run(["keygen", "admin", "--out", adminCred]);
  secrets.set("admin credential", parseKeyFile(readFileSync(adminCred, "utf8")));
  const pool = `pool-${uid}-one\npool-${uid}-two`;
  secrets.set("pool value", pool);
  await run(["creds", "put", "accounts", "--mode", "exclusive", "--allow", "ci"], { stdin: pool + "\n" });
  secrets.set("put value", `put-${uid}-value`);
  await run(["creds", "put", "svc", "--allow", "ci"], { stdin: `put-${uid}-value\n` });
  await run(["creds", "list"]);
  await run(["rotate", "token", decodeJoinToken(token).tokenId, "--out", join(dir, "rotated.token")]);
  secrets.set("rotated token", parseKeyFile(readFileSync(join(dir, "rotated.token"), "utf8")));
  // Worker features.
  const joined = join(dir, "w.cred");
  await run(["join", "--token-file", join(dir, "rotated.token"), "--name", "scan2", "--out", joined]);
  const jc = parseKeyFile(readFileSync(joined, "utf8"));
  secrets.set("joined credential", jc);
  secrets.set("joined mac key", decodeCredential(jc).macKey);
  const env = { HUSH_CREDENTIAL: jc };
  secrets.set("kv value", `kv-${uid}-value`);
  await run(["kv", "set", "app/token", "--ttl", "5m"], { stdin: `kv-${uid}-value\n`, env });
  const got = await run(["kv", "get", "app/token"], { env, secretStdout: true });
  // The scan has teeth: the same forms do find a secret where the user asked to see it.
  expect(forms(`kv-${uid}-value`).some((f) => got.stdout.includes(f))).toBe(true);
  const api = await run(["checkout", "API"], { env, secretStdout: true });
  expect(api.stdout).toBe(`env-${uid}-secret\n`);
  await run(["checkout", "svc", "--", "sh", "-c", "true"], { env });
  await run(["checkout", "accounts"], { env, secretStdout: true });
  await run(["checkout", "GEN"], { env, secretStdout: true });
  await run(["checkout", "DB_PASS"], { env, secretStdout: true });
  await run(["audit", "hash"], { stdin: `put-${uid}-value\n` });
  // Failures: a revoked credential, a bad credential, a used-up token, a forbidden checkout.
  await run(["workers", "revoke", decodeCredential(workerCred).keyId]);
  await run(["kv", "list"], { env: { HUSH_CREDENTIAL: workerCred } });
  await run(["kv", "list"], { env: { HUSH_CREDENTIAL: workerCred.slice(0, -3) + "QQQ" } });
  await run(["join", "--token-file", tokFile]);
  // An SDK client that rekeys (new keys appear only inside the daemon and this process).
  const c = new Client({ socket: d.socket, credential: jc });
  await c.rekey();
  secrets.set("rekeyed credential", c.credential);
  await c.set("k2", `kv-${uid}-value`, { ttlMs: 60_000 });
  await run(["audit", "tail", "-n", "50"]);
  await d.stop();
  const audit = readFileSync(join(dir, "audit.jsonl"), "utf8");
  expect(audit.split("\n").length).toBeGreaterThan(15);
  const epochs = audit.split("\n").filter((l) => l.includes('"type":"seal"')).length;
  expect(epochs).toBeGreaterThan(4);
  expect(epochs).toBeLessThan(64); // every key used is in the scan
  const haystacks = { "daemon log": d.log(), "CLI output": outputs.join("\n"), "audit file": audit };
  let checked = 0;
  for (const [name, secret] of secrets) {
    for (const f of forms(secret)) {
      for (const [where, text] of Object.entries(haystacks)) {
        checked++;
        if (text.includes(f)) throw new Error(`${name} found in ${where} as ${JSON.stringify(f.slice(0, 12))}…`);
      }
    }
  }
  console.log(`secret scan: ${secrets.size} secrets × their encodings, ${checked} checks, 0 hits`);
  // The scan has teeth: the secrets were really used.
  expect(audit).toContain('"action":"cred.checkout"');
  expect(audit).toContain('"reason":"revoked"');
});
