/**
 * The TLS listener with pinned keys, through the compiled binary: curl's
 * --pinnedpubkey with the printed pin, TLS 1.3 by openssl s_client, join and
 * checkout over TLS, a wrong pin refused with both pins named, and plain
 * HTTP refused off loopback.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { freePort, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

const hasCurl = Bun.which("curl") !== null;
const hasOpenssl = Bun.which("openssl") !== null;
let d: Daemon;
let port: number;
let pin: string;
let url: string;

beforeAll(async () => {
  port = freePort();
  url = `https://127.0.0.1:${port}`;
  d = await startDaemon(["--listen", url]);
  pin = /TLS pin (sha256\/\/[A-Za-z0-9+/=]{44})/.exec(d.log())![1];
});
afterAll(() => d.cleanup());

describe("TLS listener", () => {
  test.skipIf(!hasCurl)("curl --pinnedpubkey with the printed pin reaches /v1/health; a wrong pin fails", () => {
    const good = Bun.spawnSync(["curl", "-sS", "-k", "--pinnedpubkey", pin, `${url}/v1/health`]);
    expect(good.exitCode).toBe(0);
    expect(JSON.parse(good.stdout.toString()).ok).toBe(true);
    const bad = Bun.spawnSync(["curl", "-sS", "-k", "--pinnedpubkey", "sha256//" + "A".repeat(42) + "A=", `${url}/v1/health`]);
    expect(bad.exitCode).toBe(90); // CURLE_SSL_PINNEDPUBKEYNOTMATCH
  });

  test.skipIf(!hasOpenssl)("openssl s_client negotiates TLS 1.3", () => {
    const r = Bun.spawnSync(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-brief"], { stdin: new Blob([""]) });
    expect(r.stdout.toString() + r.stderr.toString()).toMatch(/Protocol version: TLSv1\.3/);
  });

  test.skipIf(!hasOpenssl)("TLS 1.3 only: TLS 1.2 is refused, with a CBC suite or an AEAD one", () => {
    const tryTls = (...flags: string[]) => {
      const r = Bun.spawnSync(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-brief", ...flags], { stdin: new Blob([""]) });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    const ok = tryTls("-tls1_3");
    expect(ok.out).toMatch(/Protocol version: TLSv1\.3/);
    for (const flags of [["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"], ["-tls1_2"], ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]]) {
      const r = tryTls(...flags);
      expect({ flags, code: r.code }).toEqual({ flags, code: 1 });
      expect(r.out).not.toContain("Protocol version");
      expect(r.out).toMatch(/alert protocol version|handshake failure|no protocols available/);
    }
  });

  test("join and checkout over TLS from the binary; tokens and credentials carry the pin", async () => {
    const dir = tempDir();
    const tok = join(dir, "join.token");
    const cred = join(dir, "w.cred");
    expect((await d.cli(["token", "create", "--tags", "ci", "--out", tok])).code).toBe(0);
    expect((await d.cli(["creds", "put", "db/password", "--allow", "ci"], { stdin: "tls-secret-value\n" })).code).toBe(0);
    const j = await hush(["join", "--url", url, "--token-file", tok, "--name", "remote", "--out", cred]);
    expect(j.code).toBe(0);
    expect(statSync(cred).mode & 0o777).toBe(0o600);
    const co = await hush(["checkout", "db/password", "--url", url, "--credential-file", cred, "--", "sh", "-c", 'printf %s "$DB_PASSWORD"']);
    expect(co).toMatchObject({ code: 0, stdout: "tls-secret-value" });
    expect(d.log()).not.toContain("tls-secret-value");
    expect(readFileSync(cred, "utf8")).toMatch(/^HUSH-WORKER-1/m);
  });

  test("a wrong pin is refused before anything is sent, naming both pins", async () => {
    const dir = tempDir();
    const tok = join(dir, "t");
    await d.cli(["token", "create", "--out", tok]);
    const wrong = "sha256//" + "B".repeat(42) + "A=";
    const r = await hush(["join", "--url", url, "--token-file", tok, "--tls-pin", wrong]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`expected ${wrong}`);
    expect(r.stderr).toContain(`the server presented ${pin}`);
    // The token was not spent: nothing reached the daemon.
    expect((await hush(["join", "--url", url, "--token-file", tok, "--out", join(dir, "w")])).code).toBe(0);
  });
});

describe("listener configuration", () => {
  test("plain HTTP is refused off loopback, and on loopback without --insecure-loopback", async () => {
    const a = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--listen", "http://0.0.0.0:18080"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("plain http:// is refused off loopback");
    const b = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--listen", "http://127.0.0.1:18080"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("needs --insecure-loopback");
  });

  test("--insecure-loopback serves signed requests over plain HTTP on 127.0.0.1", async () => {
    const p = freePort();
    const l = await startDaemon(["--listen", `http://127.0.0.1:${p}`, "--insecure-loopback"]);
    try {
      const cred = await l.issue("loop");
      const r = await hush(["kv", "list", "--url", `http://127.0.0.1:${p}`], { env: { HUSH_CREDENTIAL: cred } });
      expect(r.code).toBe(0);
      expect(l.log()).toContain("not encrypted");
    } finally {
      l.cleanup();
    }
  });

  test.skipIf(!hasOpenssl)("keygen tls: openssl accepts the certificate, the printed pin is its SPKI SHA-256, and serve uses it", async () => {
    const dir = tempDir();
    const cert = join(dir, "c.pem");
    const key = join(dir, "k.pem");
    const g = await hush(["keygen", "tls", "--host", "localhost,127.0.0.1", "--out-cert", cert, "--out-key", key]);
    expect(g.code).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const printed = /TLS pin: (sha256\/\/\S+)/.exec(g.stderr)![1];
    expect(Bun.spawnSync(["openssl", "verify", "-CAfile", cert, cert]).exitCode).toBe(0);
    const spki = Bun.spawnSync(["sh", "-c", `openssl x509 -in ${cert} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`]);
    expect("sha256//" + spki.stdout.toString().trim()).toBe(printed);
    const p = freePort();
    const s = await startDaemon(["--listen", `https://127.0.0.1:${p}`, "--tls-cert", cert, "--tls-key", key]);
    try {
      expect(s.log()).toContain(`TLS pin ${printed}`);
    } finally {
      s.cleanup();
    }
    // A key that does not match the certificate is refused at start.
    const other = join(dir, "k2.pem");
    await hush(["keygen", "tls", "--host", "x", "--out-cert", join(dir, "c2.pem"), "--out-key", other]);
    const bad = await hush(["serve", "--socket", join(dir, "s3", "hush.sock"), "--listen", `https://127.0.0.1:${freePort()}`, "--tls-cert", cert, "--tls-key", other]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("do not belong together");
  });
});

test("a certificate and key that do not match are refused before any socket or audit line exists", async () => {
  const dir = tempDir();
  await hush(["keygen", "tls", "--host", "a", "--out-cert", join(dir, "c1.pem"), "--out-key", join(dir, "k1.pem")]);
  await hush(["keygen", "tls", "--host", "b", "--out-cert", join(dir, "c2.pem"), "--out-key", join(dir, "k2.pem")]);
  const sockDir = join(dir, "s");
  const r = await hush(["serve", "--socket", join(sockDir, "hush.sock"), "--audit-file", join(dir, "audit.jsonl"), "--listen", "https://127.0.0.1:1", "--tls-cert", join(dir, "c1.pem"), "--tls-key", join(dir, "k2.pem")]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("do not belong together");
  expect(await Bun.file(join(sockDir, "hush.sock")).exists()).toBe(false);
  expect(await Bun.file(join(dir, "audit.jsonl")).exists()).toBe(false);
});
