/**
 * Error messages that name what they are about and say what to do, and JSON
 * output that follows one rule, through dist/hush: the key, lock, pool or
 * credential in each refusal; "did you mean" for enumerated values and for
 * a file given as an argument; file errors with the fix; flags after `--`;
 * dangerous --env names; `--json` printing one object (the secret in it
 * unless it went to --out).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
let dir: string;
let a: Record<string, string>;
let b: Record<string, string>;

beforeAll(async () => {
  d = await startDaemon();
  dir = tempDir();
  a = { HUSH_CREDENTIAL: await d.issue("msg-a", ["--tags", "ci"]) };
  b = { HUSH_CREDENTIAL: await d.issue("msg-b", ["--tags", "other"]) };
});
afterAll(() => d.cleanup());

/** stdout must be exactly one JSON object on one line. */
const oneJson = (stdout: string) => {
  const lines = stdout.split("\n").filter(Boolean);
  expect(lines.length).toBe(1);
  return JSON.parse(lines[0]);
};

describe("refusals name what they are about", () => {
  test("a missing key: one wording, naming the key, for get and del (exit 3)", async () => {
    for (const cmd of ["get", "del"]) {
      const r = await d.cli(["kv", cmd, "api/token"], { env: a });
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 3 });
      expect(r.stderr).toContain("hush: error: no such key: api/token (missing or expired)");
    }
  });

  test("kv incr on a string names the key", async () => {
    expect((await d.cli(["kv", "set", "word", "--ttl", "1m"], { env: a, stdin: "abc" })).code).toBe(0);
    const r = await d.cli(["kv", "incr", "word"], { env: a });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("word holds a value that is not an integer");
  });

  test("a held lock names the lock and until when, and says how to wait or renew", async () => {
    expect((await d.cli(["lock", "acquire", "mig", "--ttl", "1m"], { env: a })).code).toBe(0);
    for (const env of [a, b]) {
      const r = await d.cli(["lock", "acquire", "mig", "--ttl", "1m"], { env });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/lock mig is held, until \d{4}-\d\d-\d\dT/);
      expect(r.stderr).toContain("--wait DURATION");
      expect(r.stderr).toContain("hush lock renew mig --token");
    }
  });

  test("pools: a different --size names the pool's size; the size cap is named", async () => {
    expect((await d.cli(["pool", "lease", "shards", "--size", "3", "--ttl", "1m"], { env: a })).code).toBe(0);
    const r = await d.cli(["pool", "lease", "shards", "--size", "4", "--ttl", "1m"], { env: a });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("pool shards has 3 slots, not --size 4");
    expect(r.stderr).toContain("lease with --size 3");
    const cap = await d.cli(["pool", "lease", "big", "--size", "70000", "--ttl", "1m"], { env: a });
    expect(cap.code).toBe(2);
    expect(cap.stderr).toContain("--size must be from 1 to 65536");
  });

  test("a checkout the tags do not allow names the credential and says who can fix it", async () => {
    expect((await d.cli(["creds", "put", "db/pw", "--allow", "ci"], { stdin: "pw" })).code).toBe(0);
    const r = await d.cli(["checkout", "db/pw"], { env: b });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("this worker's tags do not allow credential db/pw");
    expect(r.stderr).toContain("--allow");
  });

  test("an enumerated value gets 'did you mean'; a file given as an argument suggests --file", async () => {
    const s = await d.cli(["rotate", "server-key", "--stage", "activte"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("--stage must be prepare, activate or retire");
    expect(s.stderr).not.toContain("activte");
    expect(s.stderr).toContain("did you mean --stage activate?");
    const log = join(dir, "audit.jsonl");
    writeFileSync(log, "");
    const v = await hush(["audit", "tail", log]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(`did you mean --file ${log}?`);
  });

  test("flags after -- are named, with the command line to use", async () => {
    const r = await d.cli(["kv", "set", "--", "-key", "--ttl", "1m"], { env: a, stdin: "v" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("flags go before --: after it, --ttl would be argument");
    expect(r.stderr).toContain("hush: hint: hush kv set --ttl 1m -- -key");
    expect(r.stderr).not.toContain("never from the command line");
  });

  test("--out: a missing directory and an existing file are explained, with the fix", async () => {
    const missing = join(dir, "no", "such", "x.cred");
    const m = await d.cli(["workers", "issue", "--name", "x", "--out", missing]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`cannot create --out ${missing}: the directory ${join(dir, "no", "such")} does not exist`);
    expect(m.stderr).toContain(`mkdir -p -m 0700 ${join(dir, "no", "such")}`);
    const there = join(dir, "there.cred");
    writeFileSync(there, "");
    const e = await d.cli(["workers", "issue", "--name", "x", "--out", there]);
    expect(e.code).toBe(4);
    expect(e.stderr).toContain(`--out ${there} already exists`);
    expect(e.stderr).toContain("hush: hint: choose another file name");
    const st = await hush(["keygen", "audit", "--out", join(dir, "a.verify"), "--state-out", join(dir, "none", "audit.state")]);
    expect(st.code).toBe(2);
    expect(st.stderr).toContain("cannot create --state-out");
    expect(st.stderr).toContain("mkdir -p -m 0700");
    expect(existsSync(join(dir, "a.verify"))).toBe(false);
  });

  test("checkout refuses to put a value in PATH, LD_PRELOAD or HUSH_* (also when named after the credential)", async () => {
    expect((await d.cli(["creds", "put", "path", "--allow", "ci"], { stdin: "v" })).code).toBe(0);
    for (const argv of [["checkout", "db/pw", "--env", "PATH"], ["checkout", "db/pw", "--env", "LD_PRELOAD"], ["checkout", "db/pw", "--env", "HUSH_SOCKET"], ["checkout", "path"]]) {
      const r = await d.cli([...argv, "--", "true"], { env: a });
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toContain("it changes which program runs or how it starts");
    }
    const creds = (await d.cli(["creds", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(creds.every((c) => c.in_use === 0)).toBe(true);
  });
});

describe("--json: one object on stdout; a secret is in it unless it went to --out", () => {
  test("join --json --out prints the metadata, like workers issue --json --out", async () => {
    const token = join(dir, "j.token");
    expect((await d.cli(["token", "create", "--out", token])).code).toBe(0);
    const j = await d.cli(["join", "--token-file", token, "--out", join(dir, "j.cred"), "--json"]);
    expect(j.code).toBe(0);
    const info = oneJson(j.stdout);
    expect(Object.keys(info).sort()).toEqual(["expires_at", "id", "tags"]);
    const w = oneJson((await d.cli(["workers", "issue", "--name", "w", "--out", join(dir, "w.cred"), "--json"])).stdout);
    expect(w.credential).toBeUndefined();
    expect(w.id).toMatch(/^w_/);
  });

  test("keygen secret, server, audit, admin and tls take --json", async () => {
    const sec = oneJson((await hush(["keygen", "secret", "--json"])).stdout);
    expect(sec).toMatchObject({ bytes: 32, encoding: "base64url" });
    expect(sec.secret).toHaveLength(43);
    const secOut = oneJson((await hush(["keygen", "secret", "--json", "--hex", "--out", join(dir, "s.secret")])).stdout);
    expect(secOut).toEqual({ bytes: 32, encoding: "hex" });
    expect(readFileSync(join(dir, "s.secret"), "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    const srv = oneJson((await hush(["keygen", "server", "--json"])).stdout);
    expect(srv.public_key).toMatch(/^hushpub1/);
    expect(srv.secret_key).toMatch(/^HUSH-SERVER-KEY-1/);
    expect(oneJson((await hush(["keygen", "server", "--json", "--out", join(dir, "k.key")])).stdout).secret_key).toBeUndefined();
    const aud = await hush(["keygen", "audit", "--json", "--state-out", join(dir, "j.state")]);
    expect(oneJson(aud.stdout).verify_key).toMatch(/^HUSH-AUDIT-VERIFY-1/);
    const adm = await d.cli(["keygen", "admin", "--json"]);
    expect(oneJson(adm.stdout).credential).toMatch(/^HUSH-ADMIN-1/);
    const tls = oneJson((await hush(["keygen", "tls", "--host", "localhost", "--json"])).stdout);
    expect(tls.pin).toMatch(/^sha256\/\//);
    expect(tls.key_pem).toContain("PRIVATE KEY");
  });
});
