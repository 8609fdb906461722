/**
 * Join tokens, `hush join`, rotation and the server key through the compiled
 * binary: a daemon started with a key from `hush keygen server`, workers
 * that join with nothing but a token file and a socket path, and no token
 * or PSK in any output of the daemon.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { Client } from "../../src/client/index.ts";
import { decodeCredential, decodeJoinToken, decodeServerSecret, encodeServerPublic, parseKeyFile } from "../../src/keys/index.ts";
import { toB64u, toHex, x25519PublicKey } from "../../src/crypto/index.ts";

let d: Daemon;
let dir: string;
let keyFile: string;
let keygen: { code: number; stdout: string; stderr: string };
let serverPub: string;
let n = 0;

beforeAll(async () => {
  dir = tempDir("hush-join-e2e-");
  keyFile = join(dir, "server.key");
  keygen = await hush(["keygen", "server", "--out", keyFile]);
  serverPub = /Public key: (hushpub1[0-9a-z]+)/.exec(keygen.stderr)?.[1] ?? "";
  d = await startDaemon(["--server-key-file", keyFile], { dir });
});
afterAll(() => d.cleanup());

const path = (name: string) => join(dir, `${name}-${++n}`);

/** `hush token create --out FILE --json …`: the token's info and its file. */
async function mkToken(extra: string[] = []) {
  const file = path("token");
  const r = await d.cli(["token", "create", "--out", file, "--json", ...extra]);
  expect(r.code).toBe(0);
  const info = JSON.parse(r.stdout);
  const text = readFileSync(file, "utf8");
  return { file, info, id: info.id as string, text, token: parseKeyFile(text) };
}

/** `hush join --token-file T --socket S --out W`, with no HUSH_SOCKET in the environment. */
async function joinOut(tokenFile: string, extra: string[] = []) {
  const out = path("worker.cred");
  const r = await hush(["join", "--token-file", tokenFile, "--socket", d.socket, "--out", out, ...extra]);
  return { ...r, out, id: /joined as (w_[A-Za-z0-9_-]{16})/.exec(r.stderr)?.[1] };
}

describe("server key from hush keygen server", () => {
  test("keygen writes a 0600 key file whose public key is printed on stderr", () => {
    expect(keygen.code).toBe(0);
    expect(keygen.stdout).toBe("");
    expect(serverPub).toMatch(/^hushpub1[0-9a-z]{50,}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(keyFile, "utf8");
    expect(text).toContain(`# public key: ${serverPub}\n`);
    const secret = decodeServerSecret(parseKeyFile(text));
    expect(encodeServerPublic(x25519PublicKey(secret))).toBe(serverPub);
    expect(keygen.stderr).not.toContain(parseKeyFile(text));
  });

  test("keygen never overwrites a key file", async () => {
    const r = await hush(["keygen", "server", "--out", keyFile]);
    expect(r.code).toBe(4);
    expect(readFileSync(keyFile, "utf8")).toContain(serverPub);
  });

  test("serve --server-key-file logs that public key; tokens carry it", async () => {
    const loaded = d
      .log()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "server key loaded");
    expect(loaded?.server_key).toBe(serverPub);
    expect(d.log()).not.toContain("ephemeral server key");
    const t = await mkToken();
    expect(t.info.server_key).toBe(serverPub);
    expect(t.text).toContain(`# public key: ${serverPub}\n`);
    expect(t.text).toContain(`# id: ${t.id}\n`);
    expect(statSync(t.file).mode & 0o777).toBe(0o600);
    const decoded = decodeJoinToken(t.token);
    expect(encodeServerPublic(decoded.serverPublic)).toBe(serverPub);
    expect(decoded.tokenId).toBe(t.id);
  });
});

describe("hush join", () => {
  test("with nothing but a token file and a socket path: a 0600 credential file that works", async () => {
    const t = await mkToken(["--tags", "ci,linux"]);
    const j = await joinOut(t.file, ["--name", "joiner"]);
    expect(j.code).toBe(0);
    expect(j.stdout).toBe("");
    expect(j.stderr).toContain("tags [ci,linux]");
    expect(statSync(j.out).mode & 0o777).toBe(0o600);
    const credText = readFileSync(j.out, "utf8");
    expect(parseKeyFile(credText)).toStartWith("HUSH-WORKER-1");
    expect(credText).toContain(`# id: ${j.id}`);
    // The credential file, as a file and (whole, comments and all) in HUSH_CREDENTIAL.
    const set = await hush(["kv", "set", "joined/a", "--ttl", "1m", "--socket", d.socket, "--credential-file", j.out], { stdin: "v" });
    expect(set.code).toBe(0);
    const viaEnv = await hush(["kv", "list", "joined/", "--socket", d.socket], { env: { HUSH_CREDENTIAL: credText } });
    expect(viaEnv).toMatchObject({ code: 0, stdout: "joined/a\n" });
    const viaFile = await hush(["kv", "get", "joined/a", "--socket", d.socket, "--credential-file", j.out]);
    expect(viaFile).toMatchObject({ code: 0, stdout: "v\n" });
  });

  test("join -- CMD: the credential is in the child's environment and its exit code passes through", async () => {
    const t = await mkToken();
    const r = await hush(["join", "--token-file", t.file, "--socket", d.socket, "--", "sh", "-c", 'echo "$HUSH_CREDENTIAL" | cut -c1-13; echo "$HUSH_SOCKET"; exit 7']);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe(`HUSH-WORKER-1\n${d.socket}\n`);
    expect(r.stderr).toMatch(/joined as w_/);
    expect(r.stderr).not.toContain("HUSH-WORKER-1");
  });

  test("--out never overwrites, and a refused path spends no token use", async () => {
    const t = await mkToken();
    const out = path("exists.cred");
    writeFileSync(out, "keep me\n");
    const r = await hush(["join", "--token-file", t.file, "--socket", d.socket, "--out", out]);
    expect(r.code).toBe(4);
    expect(readFileSync(out, "utf8")).toBe("keep me\n");
    const list = (await d.cli(["token", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(list.find((x) => x.id === t.id)).toMatchObject({ uses: 0, uses_left: 1, status: "active" });
    expect((await joinOut(t.file)).code).toBe(0);
  });

  test("the token never comes from argv; HUSH_JOIN_TOKEN works; no token → exit 2 with a hint", async () => {
    const t = await mkToken();
    const help = await hush(["join", "--help"]);
    expect(help.stdout).toContain("--token-file");
    expect(help.stdout).not.toMatch(/--token(?!-file)/);
    for (const args of [["--token", t.token], [t.token], [`--token=${t.token}`]]) {
      const r = await hush(["join", ...args, "--socket", d.socket]);
      // A usage error (an unknown flag, or an argument where none belongs); never a join.
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown flag (--token )?\(`hush join` has no such option\)|hush join takes no arguments before --|on the command line is refused/);
      expect(r.stderr).not.toContain(t.token);
      expect(r.stdout).not.toContain("HUSH-WORKER-1");
    }
    const list = (await d.cli(["token", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(list.find((x) => x.id === t.id).uses).toBe(0);
    // From the environment (the whole file text works too): no --out → the credential on stdout.
    const r = await hush(["join", "--socket", d.socket], { env: { HUSH_JOIN_TOKEN: t.text } });
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("HUSH-WORKER-1");
    const who = await new Client({ socket: d.socket, credential: r.stdout.trim(), autoRekey: false }).whoami();
    expect(r.stderr).toContain(`joined as ${who.id}`);
    const none = await hush(["join", "--socket", d.socket]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("hush: error: no join token: pass --token-file FILE or set HUSH_JOIN_TOKEN");
  });

  test("a refused join (used-up token): exit 5, 'join refused', and no token or PSK in the daemon log", async () => {
    const t = await mkToken();
    expect((await joinOut(t.file)).code).toBe(0);
    const r = await joinOut(t.file);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("join refused");
    expect(existsSync(r.out)).toBe(false);
    expect(d.log()).toContain('"reason":"exhausted_token"');
    const psk = decodeJoinToken(t.token).psk;
    const secrets = [t.token, t.token.toLowerCase(), toB64u(psk), Buffer.from(psk).toString("base64"), toHex(psk)];
    for (const s of secrets) {
      expect(d.log()).not.toContain(s);
      expect(r.stderr + r.stdout).not.toContain(s);
    }
  });

  test("join → signed requests: the SDK in this process uses the credential the binary wrote", async () => {
    const t = await mkToken(["--tags", "sdk", "--worker-ttl", "2h"]);
    const j = await joinOut(t.file, ["--name", "build-7"]);
    expect(j.code).toBe(0);
    const c = new Client({ socket: d.socket, credential: readFileSync(j.out, "utf8"), autoRekey: false });
    const who: any = await c.whoami();
    expect(who).toMatchObject({ id: j.id, name: "build-7", kind: "worker", tags: ["sdk"], serverPublic: serverPub });
    expect(who.expiresAt - Date.now()).toBeGreaterThan(2 * 3600_000 - 60_000);
    expect(who.expiresAt - Date.now()).toBeLessThanOrEqual(2 * 3600_000);
    await c.set("sdk/x", { n: 1 }, { ttlMs: 60_000 });
    const viaCli = await hush(["kv", "get", "sdk/x", "--socket", d.socket, "--credential-file", j.out]);
    expect(viaCli).toMatchObject({ code: 0, stdout: '{"n":1}\n' });
    const w = (await d.cli(["workers", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l)).find((x) => x.id === j.id);
    expect(w).toMatchObject({ name: "build-7", via: "join", token_id: t.id, tags: ["sdk"], status: "active" });
  });
});

describe("token admin", () => {
  test("token list --json never shows a token string; revoke → the next join exits 5", async () => {
    const t = await mkToken(["--uses", "3"]);
    const l = await d.cli(["token", "list", "--json"]);
    expect(l.code).toBe(0);
    expect(l.stdout).not.toContain("HUSH-JOIN");
    expect(l.stdout).not.toContain(toB64u(decodeJoinToken(t.token).psk));
    const rows = l.stdout.trim().split("\n").map((x) => JSON.parse(x));
    expect(rows.find((x) => x.id === t.id)).toMatchObject({ status: "active", uses_left: 3 });
    for (const row of rows) expect(Object.keys(row)).not.toContain("psk");
    const rv = await d.cli(["token", "revoke", t.id]);
    expect(rv.code).toBe(0);
    expect(rv.stderr).toContain(`revoked token ${t.id}`);
    const j = await joinOut(t.file);
    expect(j.code).toBe(5);
    expect(j.stderr).toContain("join refused");
    // An ended token leaves the list, and stays in `--all` (for an hour).
    const list = async (...extra: string[]) => (await d.cli(["token", "list", "--json", ...extra])).stdout.trim().split("\n").filter(Boolean).map((x) => JSON.parse(x));
    expect((await list()).find((x) => x.id === t.id)).toBeUndefined();
    expect((await list("--all")).find((x) => x.id === t.id)).toMatchObject({ status: "revoked", uses: 0 });
    expect((await d.cli(["token", "revoke", "t_AAAAAAAAAAAA"])).code).toBe(3);
  });

  test("rotate token: the old token is refused, the new one joins with the same tags", async () => {
    const t = await mkToken(["--tags", "blue,green", "--uses", "2"]);
    const t3 = path("rotated.token");
    const r = await d.cli(["rotate", "token", t.id, "--out", t3, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ replaces: t.id, tags: ["blue", "green"], uses_left: 2, server_key: serverPub });
    expect(info.id).not.toBe(t.id);
    expect(r.stdout).not.toContain("HUSH-JOIN");
    expect(statSync(t3).mode & 0o777).toBe(0o600);
    expect((await joinOut(t.file)).code).toBe(5);
    const j = await hush(["join", "--token-file", t3, "--socket", d.socket, "--json"]);
    expect(j.code).toBe(0);
    const joined = JSON.parse(j.stdout);
    expect(joined.tags).toEqual(["blue", "green"]);
    expect((await new Client({ socket: d.socket, credential: joined.credential, autoRekey: false }).whoami()).tags).toEqual(["blue", "green"]);
  });
});

describe("rotate worker", () => {
  test("a one-shot CLI call does not rotate (the new key would die with it): it exits 5 with a hint", async () => {
    const t = await mkToken();
    const j = await joinOut(t.file);
    expect(j.code).toBe(0);
    const before = readFileSync(j.out, "utf8");
    const rot = await d.cli(["rotate", "worker", j.id!, "--json"]);
    expect(rot.code).toBe(0);
    expect(JSON.parse(rot.stdout)).toMatchObject({ id: j.id, rekey_required: true });
    const workers = async () => (await d.cli(["workers", "list", "--json"])).stdout.trim().split("\n").map((l) => JSON.parse(l)).find((x) => x.id === j.id);
    expect(await workers()).toMatchObject({ rekey_required: true, rekeys: 0 });
    const kv = await hush(["kv", "list", "--socket", d.socket, "--credential-file", j.out]);
    expect(kv.code).toBe(5);
    expect(kv.stderr).toContain("hush: hint: the admin asked this worker to rotate its key");
    expect(await workers()).toMatchObject({ rekey_required: true, rekeys: 0, status: "active" });
    expect(readFileSync(j.out, "utf8")).toBe(before);
    // A worker that does not exist (or is revoked) cannot be rotated.
    expect((await d.cli(["rotate", "worker", "w_AAAAAAAAAAAAAAAA"])).code).toBe(3);
  });
});

describe("rotate server-key (runs last: it changes the daemon's key)", () => {
  test("prepare → activate → retire through the binary", async () => {
    const early = await joinOut((await mkToken()).file, ["--name", "early"]);
    expect(early.code).toBe(0);
    const stage = async (s?: string) => {
      const r = await d.cli(["rotate", "server-key", ...(s ? ["--stage", s] : []), "--json"]);
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout).keys as { id: string; state: string; public: string }[];
    };
    const k0 = await stage();
    expect(k0).toEqual([expect.objectContaining({ state: "active", public: serverPub })]);
    const t0 = await mkToken(["--uses", "5"]);

    const k1 = await stage("prepare");
    expect(k1.map((k) => k.state).sort()).toEqual(["active", "next"]);
    expect(k1.find((k) => k.state === "active")!.public).toBe(serverPub);
    const nextPub = k1.find((k) => k.state === "next")!.public;
    expect(nextPub).not.toBe(serverPub);
    expect((await d.cli(["rotate", "server-key", "--stage", "prepare", "--json"])).code).toBe(4);
    const t1 = await mkToken(["--uses", "5"]);
    expect(t1.info.server_key).toBe(serverPub);

    const k2 = await stage("activate");
    expect(k2.find((k) => k.state === "active")!.public).toBe(nextPub);
    expect(k2.find((k) => k.state === "previous")!.public).toBe(serverPub);
    const t2 = await mkToken(["--uses", "5"]);
    expect(t2.info.server_key).toBe(nextPub);
    expect(encodeServerPublic(decodeJoinToken(t2.token).serverPublic)).toBe(nextPub);
    expect(t2.text).toContain(`# public key: ${nextPub}`);
    for (const t of [t0, t1, t2]) expect((await joinOut(t.file)).code).toBe(0);

    const k3 = await stage("retire");
    expect(k3).toEqual([expect.objectContaining({ state: "active", public: nextPub })]);
    expect((await d.cli(["rotate", "server-key", "--stage", "retire"])).code).toBe(4);
    for (const t of [t0, t1]) {
      const r = await joinOut(t.file);
      expect(r.code).toBe(5);
      expect(r.stderr).toContain("join refused");
    }
    expect(d.log()).toContain('"reason":"revoked_token"');
    const late = await joinOut(t2.file);
    expect(late.code).toBe(0);
    const lateCred = decodeCredential(parseKeyFile(readFileSync(late.out, "utf8")));
    expect(encodeServerPublic(lateCred.serverPublic)).toBe(nextPub);
    // A worker joined under the retired key keeps working.
    expect((await hush(["kv", "list", "--socket", d.socket, "--credential-file", early.out])).code).toBe(0);
    expect((await d.cli(["rotate", "server-key", "--stage", "bogus"])).code).toBe(2);
    const stats = JSON.parse((await d.cli(["stats", "--json"])).stdout);
    expect(stats.server_key).toBe(nextPub);
  });
});
