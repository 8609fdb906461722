/**
 * Clients trust a unix socket only when the socket and its directory belong
 * to the expected uid and nobody else can write the directory (SECURITY.md,
 * "Trust boundaries"). An impostor running as nobody squats another uid's
 * default path (/tmp/hush-<uid>, 0777) and counts every byte it receives:
 * every CLI command, `hush join`, and the SDK in Bun and in Node
 * (dist/sdk/index.mjs) must refuse it, naming the path, owner and mode, and
 * send nothing. Also: loose, symlinked and foreign-socket directories, and
 * the legitimate `--socket-group` set-up with `--socket-owner`.
 *
 * Needs root on Linux with setpriv (to act as three uids); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HUSH, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const NOBODY = 65534;
const canSwitch = process.platform === "linux" && process.getuid?.() === 0 && Bun.which("setpriv") !== null;
const WHY = "needs root on Linux with setpriv, to run the impostor, the victim and a service user as different uids";
if (!canSwitch) console.warn(`socket-trust.test.ts: skipped: ${WHY}`);

const ROOT = resolve(import.meta.dir, "../..");
const IMPOSTOR = join(import.meta.dir, "_impostor.ts");
// A uid nobody uses, different per test process (other runs may share /tmp).
const VICTIM = 40_000 + (process.pid % 20_000);
const SVC_GROUP = VICTIM + 1;
const DEFAULT_DIR = `/tmp/hush-${VICTIM}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function asUser(uid: number, groups: number[] | null, argv: string[], opts: { env?: Record<string, string>; stdin?: string } = {}) {
  const who = [`--reuid=${uid}`, `--regid=${uid}`, groups ? `--groups=${groups.join(",")}` : "--clear-groups"];
  return Bun.spawn(["setpriv", ...who, ...argv], {
    // No XDG_RUNTIME_DIR and no HUSH_SOCKET: the default path /tmp/hush-<uid> is used.
    env: { PATH: process.env.PATH!, NO_COLOR: "1", HOME: home, ...opts.env },
    cwd: home,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function run(uid: number, groups: number[] | null, argv: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const p = asUser(uid, groups, argv, opts);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** A listener from _impostor.ts; `bytes()` is everything it received. */
async function listen(uid: number, dir: string, mode: string) {
  const proc = uid === 0
    ? Bun.spawn([process.execPath, IMPOSTOR, dir, mode], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH! } })
    : asUser(uid, null, [process.execPath, IMPOSTOR, dir, mode]);
  let out = "";
  (async () => {
    const dec = new TextDecoder();
    for await (const c of proc.stdout as any) out += dec.decode(c, { stream: true });
  })();
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`impostor exited ${proc.exitCode}`);
    return out.includes("ready");
  }, 10_000, "the impostor to listen");
  const l = {
    bytes: () => Math.max(0, ...[...out.matchAll(/bytes (\d+)/g)].map((m) => Number(m[1]))),
    stop: async () => {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  stops.push(l.stop);
  return l;
}

let base = "";
let home = "";
let credential = "";
let token = "";
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!canSwitch) return;
  base = tempDir("hush-trust-");
  chmodSync(base, 0o755);
  home = join(base, "victim");
  mkdirSync(home, { mode: 0o700 });
  chownSync(home, VICTIM, VICTIM);
  rmSync(DEFAULT_DIR, { recursive: true, force: true });
  // A real credential and join token (of a daemon that is gone by now), so
  // that the commands below have everything they need to send a request.
  const d: Daemon = await startDaemon();
  try {
    credential = await d.issue("ci", ["--tags", "ci"]);
    token = (await d.cli(["token", "create", "--tags", "ci"])).stdout.trim();
    expect(token).toStartWith("HUSH-JOIN-1");
  } finally {
    d.cleanup();
  }
});

afterAll(async () => {
  for (const s of stops) await s().catch(() => {});
  rmSync(DEFAULT_DIR, { recursive: true, force: true });
});

/** Every command that talks to a daemon: [argv, stdin?]. */
function everyCommand(): [string[], string?][] {
  return [
    [["creds", "put", "db/password", "--allow", "ci"], "secret"],
    [["creds", "list"]],
    [["creds", "delete", "db/password"]],
    [["workers", "issue", "--name", "ci", "--out", "w.cred"]],
    [["workers", "list"]],
    [["workers", "revoke", "w_x"]],
    [["token", "create", "--out", "t.token"]],
    [["token", "list"]],
    [["token", "revoke", "t_x"]],
    [["keygen", "admin", "--out", "a.cred"]],
    [["audit", "hash"], "secret"],
    [["audit", "tail"]],
    [["stats"]],
    [["rotate", "worker", "w_x"]],
    [["rotate", "server-key"]],
    [["rotate", "token", "t_x"]],
    [["health"]],
    [["kv", "set", "k", "--ttl", "1m"], "value"],
    [["kv", "get", "k"]],
    [["kv", "list"]],
    [["kv", "del", "k"]],
    [["kv", "incr", "n", "--ttl", "1m"]],
    [["lock", "acquire", "l", "--ttl", "30s"]],
    [["lock", "renew", "l", "--token", "1", "--ttl", "30s"]],
    [["lock", "release", "l", "--token", "1"]],
    [["pool", "lease", "p", "--size", "2", "--ttl", "1m"]],
    [["pool", "release", "p", "--token", "1"]],
    [["checkout", "db/password", "--", "env"]],
    [["join", "--out", "j.cred"]],
    [["join", "--", "env"]],
    [["bench", "--socket", `${DEFAULT_DIR}/hush.sock`, "--op", "get", "--requests", "1", "--warmup", "0", "--connections", "1"]],
  ];
}

const sdkBun = () => `
import { AdminClient, Client, createUnixTransport, joinWithToken } from ${JSON.stringify(join(ROOT, "src/client/index.ts"))};
const out = [];
const tries = {
  client: () => Client.fromEnv().set("k", "v", { ttlMs: 1000 }),
  health: () => Client.fromEnv().health(),
  admin: () => new AdminClient().call("GET", "/v1/admin/stats"),
  join: () => joinWithToken(createUnixTransport(${JSON.stringify(`${DEFAULT_DIR}/hush.sock`)}), process.env.HUSH_JOIN_TOKEN, "x"),
};
for (const [what, f] of Object.entries(tries)) {
  try { await f(); out.push({ what, ok: true }); } catch (e) { out.push({ what, code: e.code, message: e.message }); }
}
console.log(JSON.stringify(out));
`;

describe.skipIf(!canSwitch)("an impostor (nobody) squatting the victim's default path /tmp/hush-<uid>", () => {
  test("every CLI command, join and the SDK (Bun, Node) refuse it; it receives 0 bytes", async () => {
    const imp = await listen(NOBODY, DEFAULT_DIR, "777");
    const env = { HUSH_CREDENTIAL: credential, HUSH_JOIN_TOKEN: token };
    const cli = await Promise.all(everyCommand().map(([argv, stdin]) => run(VICTIM, null, [HUSH, ...argv], { env, stdin })));
    const owner = `is owned by uid ${NOBODY} (nobody), not by you (uid ${VICTIM}),`;
    cli.forEach((r, i) => {
      const what = everyCommand()[i][0].join(" ");
      expect({ what, code: r.code }).toEqual({ what, code: 5 });
      expect(r.stderr).toContain(`hush: error: refusing to connect to ${DEFAULT_DIR}/`);
      expect(r.stderr).toContain(`socket directory ${DEFAULT_DIR} ${owner} and has mode 0777, writable by group or others; nothing was sent`);
      expect(r.stderr).toContain("hush: hint: another user may have made this path");
      expect(r.stdout).not.toContain("IMPOSTOR");
    });
    for (const f of ["w.cred", "t.token", "a.cred", "j.cred"]) expect(existsSync(join(home, f))).toBe(false);

    const bunFile = join(base, "sdk-bun.ts");
    writeFileSync(bunFile, sdkBun());
    const nodeFile = join(base, "sdk-node.mjs");
    writeFileSync(nodeFile, sdkBun().replace(JSON.stringify(join(ROOT, "src/client/index.ts")), JSON.stringify(join(ROOT, "dist/sdk/index.mjs"))));
    for (const argv of [[process.execPath, bunFile], ["node", nodeFile]]) {
      if (argv[0] === "node" && !Bun.which("node")) continue; // Node is optional on a build host
      const r = await run(VICTIM, null, argv, { env });
      expect(r.code).toBe(0);
      const results = JSON.parse(r.stdout);
      expect(results.map((x: any) => x.what)).toEqual(["client", "health", "admin", "join"]);
      for (const x of results) {
        expect(x.code).toBe("auth_failed");
        expect(x.message).toContain(`refusing to connect to ${DEFAULT_DIR}/`);
        expect(x.message).toContain(owner);
      }
    }
    expect(imp.bytes()).toBe(0);
    await imp.stop();
  }, 60_000);

  test("the victim's own daemon at the default path still works without flags", async () => {
    rmSync(DEFAULT_DIR, { recursive: true, force: true });
    const daemon = asUser(VICTIM, null, [HUSH, "serve"]);
    stops.push(async () => {
      daemon.kill("SIGKILL");
      await daemon.exited;
    });
    await waitFor(async () => (await run(VICTIM, null, [HUSH, "health"])).code === 0, 10_000, "the victim's daemon");
    const issued = await run(VICTIM, null, [HUSH, "workers", "issue", "--name", "me"]);
    expect(issued.code).toBe(0);
    const env = { HUSH_CREDENTIAL: issued.stdout.trim() };
    expect((await run(VICTIM, null, [HUSH, "kv", "set", "k", "--ttl", "1m"], { env, stdin: "v" })).code).toBe(0);
    expect((await run(VICTIM, null, [HUSH, "kv", "get", "k"], { env })).stdout.trim()).toBe("v");
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  }, 30_000);
});

describe.skipIf(!canSwitch)("directories and sockets that are not the owner's alone", () => {
  /** A directory under the 0755 test base, owned by `uid`. */
  function dirOf(name: string, uid: number): string {
    const d = join(base, name);
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, uid, uid);
    return d;
  }
  async function refused(socket: string, expectText: string) {
    const r = await run(VICTIM, null, [HUSH, "workers", "list", "--socket", socket]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`hush: error: refusing to connect to ${join(socket, "..", "admin.sock")}: `);
    expect(r.stderr).toContain(expectText);
    expect(r.stderr).toContain("hush: hint:");
  }

  test("owned by the victim but open to others (0755) or writable by its group (0770, 0775): refused", async () => {
    for (const [mode, why] of [["755", "open to"], ["770", "writable by"], ["775", "writable by"]]) {
      const d = dirOf(`v${mode}`, VICTIM);
      const l = await listen(VICTIM, d, mode);
      await refused(join(d, "hush.sock"), `socket directory ${d} is owned by you (uid ${VICTIM}) and has mode 0${mode}, ${why} group or others`);
      expect(l.bytes()).toBe(0);
    }
    // Control: the same listener in a 0700 directory does receive the request.
    const ok = dirOf("v700", VICTIM);
    const l = await listen(VICTIM, ok, "700");
    const r = await run(VICTIM, null, [HUSH, "health", "--socket", join(ok, "hush.sock")]);
    expect(r.stderr).not.toContain("refusing");
    expect(l.bytes()).toBeGreaterThan(0);
  }, 30_000);

  test("a symlinked directory is refused, even to the victim's own daemon", async () => {
    const real = dirOf("real", VICTIM);
    const l = await listen(VICTIM, real, "700");
    const link = join(base, "link");
    symlinkSync(real, link);
    await refused(join(link, "hush.sock"), `socket directory ${link} is a symlink`);
    expect(l.bytes()).toBe(0);
  }, 30_000);

  test("a socket owned by another uid inside the victim's good directory is refused", async () => {
    const d = dirOf("good", VICTIM);
    const l = await listen(0, d, "700");
    for (const s of ["admin.sock", "hush.sock"]) chownSync(join(d, s), NOBODY, NOBODY);
    await refused(join(d, "hush.sock"), `the socket is owned by uid ${NOBODY} (nobody), not by you (uid ${VICTIM}), and has mode 0666`);
    expect(l.bytes()).toBe(0);
  }, 30_000);
});

describe.skipIf(!canSwitch)("--socket-group: a daemon run by a service user (nobody), a client in the group", () => {
  test("works with --socket-owner / HUSH_SOCKET_OWNER / socketOwner, and is refused without", async () => {
    const svc = dirOf2("svc", NOBODY);
    const socket = join(svc, "run", "hush.sock");
    const daemon = asUser(NOBODY, [SVC_GROUP], [HUSH, "serve", "--socket", socket, "--socket-group", String(SVC_GROUP), "--socket-mode", "0660"]);
    stops.push(async () => {
      daemon.kill("SIGKILL");
      await daemon.exited;
    });
    await waitFor(async () => (await run(NOBODY, [SVC_GROUP], [HUSH, "health", "--socket", socket])).code === 0, 10_000, "the service daemon");
    const issued = await run(NOBODY, [SVC_GROUP], [HUSH, "workers", "issue", "--name", "member", "--socket", socket]);
    expect(issued.code).toBe(0);
    const cred = issued.stdout.trim();
    const member = (argv: string[], env: Record<string, string> = {}, stdin?: string) => run(VICTIM, [SVC_GROUP], [HUSH, ...argv, "--socket", socket], { env: { HUSH_CREDENTIAL: cred, ...env }, stdin });

    const without = await member(["kv", "get", "k"]);
    expect(without.code).toBe(5);
    expect(without.stderr).toContain(`socket directory ${join(svc, "run")} is owned by uid ${NOBODY} (nobody), not by you (uid ${VICTIM}), and has mode 0710`);
    expect(without.stderr).toContain("--socket-owner");

    expect((await member(["kv", "set", "k", "--ttl", "1m", "--socket-owner", "nobody"], {}, "v1")).code).toBe(0);
    expect((await member(["kv", "get", "k", "--socket-owner", String(NOBODY)])).stdout.trim()).toBe("v1");
    expect((await member(["health"], { HUSH_SOCKET_OWNER: "nobody" })).code).toBe(0);
    const js = join(base, "sdk-group.mjs");
    writeFileSync(
      js,
      `import { Client } from ${JSON.stringify(join(ROOT, "dist/sdk/index.mjs"))};
const c = new Client({ socket: ${JSON.stringify(socket)}, socketOwner: "nobody", credential: process.env.HUSH_CREDENTIAL });
console.log(await c.get("k"));
try { await new Client({ socket: ${JSON.stringify(socket)}, credential: process.env.HUSH_CREDENTIAL }).get("k"); } catch (e) { console.log(e.code); }`,
    );
    for (const rt of [process.execPath, ...(Bun.which("node") ? ["node"] : [])]) {
      const r = await run(VICTIM, [SVC_GROUP], [rt, js], { env: { HUSH_CREDENTIAL: cred } });
      expect(r.stdout.trim().split("\n")).toEqual(["v1", "auth_failed"]);
    }
    // The member still cannot reach admin.sock (0600): the owner check passes, the OS refuses.
    const admin = await member(["workers", "list", "--socket-owner", "nobody"]);
    expect(admin.code).toBe(6);
    expect(admin.stderr).toMatch(/EACCES|ermission denied/);
    daemon.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
  }, 60_000);
});

function dirOf2(name: string, uid: number): string {
  const d = join(base, name);
  mkdirSync(d, { mode: 0o755 });
  chownSync(d, uid, uid);
  return d;
}
