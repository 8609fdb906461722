/**
 * Which daemon a command talks to (cmd/_target.ts), as a newcomer meets it:
 * `$HUSH_URL` is never silently ignored (an admin command without an admin
 * credential refuses it instead of using this machine's admin.sock), admin
 * commands take `--url`, a flag beats the environment, and the slips with
 * socket paths and URLs are named. Two daemons: "remote" listens on a
 * loopback port (plain HTTP, --insecure-loopback), "local" only on its
 * sockets, so the tests can tell which one answered.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { freePort, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let remote: Daemon;
let local: Daemon;
let url: string;
let dir: string;
let adminCred: string;

beforeAll(async () => {
  dir = tempDir();
  url = `http://127.0.0.1:${freePort()}`;
  remote = await startDaemon(["--listen", url, "--insecure-loopback"]);
  local = await startDaemon();
  expect((await remote.cli(["creds", "put", "remote-only", "--allow", "ci"], { stdin: "r" })).code).toBe(0);
  expect((await local.cli(["creds", "put", "local-only", "--allow", "ci"], { stdin: "l" })).code).toBe(0);
  adminCred = join(dir, "ops.admin");
  expect((await remote.cli(["keygen", "admin", "--out", adminCred])).code).toBe(0);
});
afterAll(() => {
  remote.cleanup();
  local.cleanup();
});

/** A command run on the "local" daemon's machine, with HUSH_SOCKET pointing at it. */
const onLocal = (args: string[], env: Record<string, string | undefined> = {}) => local.cli(args, { env });
const credNames = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l).name);

describe("$HUSH_URL and admin commands", () => {
  test("without an admin credential, $HUSH_URL is refused (exit 2), not ignored: nothing is made on the local daemon", async () => {
    const out = join(dir, "t.token");
    const r = await onLocal(["token", "create", "--out", out], { HUSH_URL: url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`$HUSH_URL is set to ${url}, but admin commands reach a controller's URL only with an admin credential`);
    expect(r.stderr).toContain("HUSH_ADMIN_CREDENTIAL");
    expect(existsSync(out)).toBe(false);
    expect((await onLocal(["token", "list"])).stdout).toBe("");
    for (const argv of [["creds", "list"], ["stats"], ["workers", "list"], ["audit", "tail"], ["keygen", "admin"]]) {
      const x = await onLocal(argv, { HUSH_URL: url });
      expect({ argv, code: x.code }).toEqual({ argv, code: 2 });
      expect(x.stderr).toContain("$HUSH_URL is set to");
      expect(x.stdout).toBe("");
    }
  });

  test("with an admin credential, $HUSH_URL or --url reaches the other daemon; admin commands take --url", async () => {
    const viaEnv = await onLocal(["creds", "list"], { HUSH_URL: url, HUSH_ADMIN_CREDENTIAL: adminCred });
    expect(viaEnv.code).toBe(2); // a file name in the variable: refused with a hint, never read as a credential
    expect(viaEnv.stderr).toContain("--admin-credential-file");
    const env = await onLocal(["creds", "list", "--admin-credential-file", adminCred], { HUSH_URL: url });
    expect({ code: env.code, names: credNames(env.stdout) }).toEqual({ code: 0, names: ["remote-only"] });
    const flag = await onLocal(["creds", "list", "--url", url, "--admin-credential-file", adminCred]);
    expect({ code: flag.code, names: credNames(flag.stdout) }).toEqual({ code: 0, names: ["remote-only"] });
  });

  test("--socket beats $HUSH_URL (a flag beats the environment); --socket with --url is refused", async () => {
    const r = await onLocal(["creds", "list", "--socket", local.socket], { HUSH_URL: url });
    expect({ code: r.code, names: credNames(r.stdout) }).toEqual({ code: 0, names: ["local-only"] });
    const both = await onLocal(["creds", "list", "--socket", local.socket, "--url", url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--url and --socket name two different daemons");
  });

  test("hush health follows $HUSH_URL and --url, and says which daemon it checked", async () => {
    const viaUrl = await onLocal(["health", "--json"], { HUSH_URL: url });
    expect(viaUrl.code).toBe(0);
    expect(JSON.parse(viaUrl.stdout)).toMatchObject({ ready: true, url });
    const text = await onLocal(["health", "--url", url]);
    expect(text.stdout).toContain(url);
    const sock = await onLocal(["health", "--json"]);
    expect(JSON.parse(sock.stdout)).toMatchObject({ ready: true, socket: local.socket });
  });
});

describe("URLs and socket paths: slips are named", () => {
  test("a URL with a path, query or user is refused (the path was dropped before)", async () => {
    for (const [u, what] of [[`${url}/v1`, "a path"], [`${url}/?x=1`, "a query"], [`http://me@127.0.0.1:1`, "a user name"]] as const) {
      const r = await onLocal(["health", "--url", u]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--url has ${what}`);
      const e = await onLocal(["kv", "get", "x"], { HUSH_URL: u, HUSH_CREDENTIAL: "HUSH-WORKER-1X" });
      expect(e.code).toBe(2);
      expect(e.stderr).toContain(`$HUSH_URL has ${what}`);
    }
  });

  test("https:// to a plain HTTP port says so, not 'no TLS pin'", async () => {
    const cred = await remote.issue("pinless");
    for (const argv of [["kv", "get", "x", "--url", url.replace("http:", "https:")], ["health", "--url", url.replace("http:", "https:")]]) {
      const r = await onLocal(argv, { HUSH_CREDENTIAL: cred });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("is a plain HTTP port, not TLS");
      expect(r.stderr).toContain(`use --url ${url}`);
    }
  });

  test("admin.sock given to a worker command: exit 2 naming hush.sock (it was exit 3, 'not found')", async () => {
    const cred = await local.issue("slips");
    const r = await onLocal(["kv", "get", "x", "--socket", local.admin], { HUSH_CREDENTIAL: cred });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is the admin socket; worker commands (kv, lock, pool, checkout, join) use hush.sock");
    expect(r.stderr).toContain(`use --socket ${local.socket}`);
    // Admin commands given admin.sock mean that daemon.
    const a = await onLocal(["creds", "list", "--socket", local.admin]);
    expect(credNames(a.stdout)).toEqual(["local-only"]);
  });

  test("a directory as the socket: 'did you mean DIR/hush.sock', from --socket and $HUSH_SOCKET", async () => {
    const d = dirname(local.socket);
    const r = await onLocal(["kv", "get", "x", "--socket", d], { HUSH_CREDENTIAL: await local.issue("dir") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--socket ${d} is a directory, not the daemon's socket`);
    expect(r.stderr).toContain(`did you mean --socket ${join(d, "hush.sock")}?`);
    expect(r.stderr).not.toContain("another user");
    const e = await hush(["stats"], { env: { HUSH_SOCKET: d } });
    expect(e.code).toBe(2);
    expect(e.stderr).toContain(`$HUSH_SOCKET ${d} is a directory`);
  });
});

describe("hush join follows the same rule", () => {
  test("--socket beats $HUSH_URL; the command gets the daemon it joined, not the caller's $HUSH_URL", async () => {
    const token = join(dir, "join.token");
    expect((await onLocal(["token", "create", "--out", token])).code).toBe(0);
    const r = await onLocal(["join", "--socket", local.socket, "--token-file", token, "--", "sh", "-c", 'echo "url=${HUSH_URL:-none} socket=$HUSH_SOCKET"'], { HUSH_URL: url });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`url=none socket=${local.socket}\n`);
  });
});

describe("the SDK refuses the same URLs", () => {
  test("a url with a path, query or user name throws invalid_request instead of dropping it", async () => {
    const { Client, HushError } = await import("../../src/client/index.ts");
    const credential = await remote.issue("sdk-url");
    for (const u of [`${url}/v1`, `${url}?a=b`, `http://u:p@127.0.0.1:1`]) {
      let e: any;
      try {
        new Client({ url: u, credential });
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(HushError);
      expect(e.code).toBe("invalid_request");
      expect(e.message).toContain("without a path, query or user name");
    }
    const ok = new Client({ url, credential, autoRekey: false });
    expect(await ok.call("GET", "/v1/whoami")).toMatchObject({ name: "sdk-url" });
    ok.close();
  });
});
