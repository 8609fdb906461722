/**
 * Several daemon addresses (docs/CLUSTER.md §10) with the compiled binary:
 * the SDK and the CLI move to the next address only when a daemon cannot be
 * reached (nothing was sent) — a socket nobody listens on, a missing socket
 * file, a closed TCP port (TLS and plain loopback) — and the call is then
 * served once by the next daemon. A daemon killed with SIGKILL after a
 * request reached it ends the call in `unavailable` saying it may have been
 * carried out, and the call is sent nowhere else (a counter in Redis, read
 * through the other daemon, moved once). Token and credential files carry
 * the list in their `# addresses:` line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, HushError } from "../../src/client/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "../cluster/_redis.ts";
import { clusterArgs } from "../cluster/_cluster.ts";
import { freePort, hush, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

let live: Daemon;
let liveUrl: string;
let cred: string;
/** Addresses where no daemon answers: a socket file nobody listens on, no socket file, closed TCP ports. */
const dead = { refused: "", missing: "", tlsPort: "", httpPort: "" };
const cleanup: Daemon[] = [];
/** The environment of a CLI run that names its daemons only through what the test passes. */
const NO_TARGET = { HUSH_SOCKET: undefined, HUSH_URL: undefined, HUSH_CREDENTIAL: undefined, HUSH_TLS_PIN: undefined, HUSH_TRANSPORT: undefined };

beforeAll(async () => {
  liveUrl = `https://127.0.0.1:${freePort()}`;
  live = await startDaemon(["--listen", liveUrl]);
  cleanup.push(live);
  cred = await live.issue("multi");
  // A daemon killed with SIGKILL leaves its socket file: connecting to it is refused.
  const killed = await startDaemon();
  cleanup.push(killed);
  killed.proc.kill("SIGKILL");
  await killed.proc.exited;
  dead.refused = `unix:${killed.socket}`;
  const empty = join(tempDir(), "run");
  mkdirSync(empty, { mode: 0o700 });
  dead.missing = `unix:${join(empty, "hush.sock")}`;
  dead.tlsPort = `https://127.0.0.1:${freePort()}`;
  dead.httpPort = `http://127.0.0.1:${freePort()}`;
});

afterAll(() => {
  for (const d of cleanup) d.cleanup();
});

/** Connections waiting for the daemon listening on `socket` to accept them (`ss`: a listener's Recv-Q). */
function queuedConnections(socket: string): number {
  const out = Bun.spawnSync(["ss", "-xaH"]).stdout.toString();
  const line = out.split("\n").find((l) => l.startsWith("u_str") && l.includes("LISTEN") && l.includes(` ${socket} `));
  return line ? Number(line.trim().split(/\s+/)[2]) : 0;
}

/** Read `key` from the live daemon alone. */
async function readLive(key: string): Promise<unknown> {
  const c = new Client({ socket: live.socket, credential: cred, transport: "http" });
  try {
    return await c.get(key);
  } finally {
    c.close();
  }
}

describe("the first address is dead: the call is served by the next, once", () => {
  const cases: [string, () => string, () => string][] = [
    ["a socket nobody listens on", () => dead.refused, () => `unix:${live.socket}`],
    ["a missing socket file", () => dead.missing, () => `unix:${live.socket}`],
    ["a closed TCP port (TLS)", () => dead.tlsPort, () => liveUrl],
    ["a closed TCP port (plain loopback)", () => dead.httpPort, () => `unix:${live.socket}`],
  ];
  for (const [what, first, second] of cases) {
    for (const transport of ["ws", "http"] as const) {
      test(`SDK over ${transport}: ${what}`, async () => {
        const key = `sdk/${transport}/${what}`;
        const c = new Client({ url: `${first()},${second()}`, credential: cred, transport });
        try {
          expect(await c.incr(key, 1, { ttlMs: 60_000 })).toBe(1);
          expect(await c.incr(key, 1, { ttlMs: 60_000 })).toBe(2); // the next call starts at the daemon that answered
        } finally {
          c.close();
        }
        expect(await readLive(key)).toBe(2);
      });
    }
    test(`CLI, HUSH_URL=dead,live: ${what}`, async () => {
      const key = `cli/${what}`;
      const env = { ...NO_TARGET, HUSH_URL: `${first()},${second()}`, HUSH_CREDENTIAL: cred };
      const r = await hush(["kv", "incr", key, "--ttl", "1m"], { env });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("1");
      const g = await hush(["kv", "get", key], { env: { ...env, HUSH_URL: undefined, HUSH_SOCKET: live.socket } });
      expect(g.stdout.trim()).toBe("1");
    });
  }

  test("no address answers: one `unavailable` naming each, nothing sent (CLI exit 6)", async () => {
    const r = await hush(["kv", "get", "x"], { env: { ...NO_TARGET, HUSH_URL: `${dead.missing},${dead.refused}`, HUSH_CREDENTIAL: cred } });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("cannot reach any of the 2 hush daemons");
    expect(r.stderr).toContain(dead.missing.slice(5));
    expect(r.stderr).toContain(dead.refused.slice(5));
  });

  test("every address is checked against the same TLS pin: a wrong pin is refused, not skipped", async () => {
    const wrong = "sha256//" + "A".repeat(43) + "=";
    const c = new Client({ url: `${dead.tlsPort},${liveUrl}`, credential: cred, transport: "http", tlsPin: wrong });
    try {
      const e: any = await c.get("x").catch((e: unknown) => e);
      expect(e).toBeInstanceOf(HushError);
      expect(e.code).toBe("auth_failed");
      expect(e.detail.pinMismatch).toBe(true);
    } finally {
      c.close();
    }
  });

  test("malformed lists are refused before anything is sent", async () => {
    for (const [list, says] of [
      [`${dead.missing},,unix:${live.socket}`, "empty address"],
      [`unix:${live.socket},unix:${live.socket}`, "twice"],
      ["unix:relative/hush.sock", "unix:/ABSOLUTE"],
      [`${liveUrl}/v1`, "a path"],
    ]) {
      const r = await hush(["kv", "get", "x"], { env: { ...NO_TARGET, HUSH_URL: list, HUSH_CREDENTIAL: cred } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(says);
    }
  });
});

describe("token and credential files carry the addresses", () => {
  test("workers issue --addresses writes the list; commands using the file go there; an old file without it still works", async () => {
    const dir = tempDir();
    const file = join(dir, "w.cred");
    const list = `${dead.missing},unix:${live.socket}`;
    const r = await live.cli(["workers", "issue", "--name", "listed", "--addresses", list, "--out", file]);
    expect(r.code).toBe(0);
    expect(readFileSync(file, "utf8")).toContain(`# addresses: ${list}\n`);
    const set = await hush(["kv", "set", "listed/k", "--ttl", "1m", "--credential-file", file], { env: NO_TARGET, stdin: "v" });
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);
    // The whole file in HUSH_CREDENTIAL works the same (the SDK reads the line too).
    const c = new Client({ credential: readFileSync(file, "utf8"), transport: "ws" });
    try {
      expect(await c.get("listed/k")).toBe("v");
    } finally {
      c.close();
    }
    // A flag or variable still wins over the file's line.
    const flag = await hush(["kv", "get", "listed/k", "--credential-file", file, "--url", dead.missing], { env: NO_TARGET });
    expect(flag.code).toBe(6);
    // A file written before addresses existed (no such line) still works, with HUSH_SOCKET.
    const old = join(dir, "old.cred");
    writeFileSync(old, readFileSync(file, "utf8").replace(/^# addresses:.*\n/m, ""), { mode: 0o600 });
    const g = await hush(["kv", "get", "listed/k", "--credential-file", old], { env: { ...NO_TARGET, HUSH_SOCKET: live.socket } });
    expect(g.stdout.trim()).toBe("v");
    // --addresses is written into the file, so it needs --out.
    const noOut = await live.cli(["workers", "issue", "--name", "x", "--addresses", list]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain("--out");
  });

  test("token create --addresses; join uses the token's line and carries it into the credential file", async () => {
    const dir = tempDir();
    const tok = join(dir, "join.token");
    const list = `${dead.refused},unix:${live.socket}`;
    const t = await live.cli(["token", "create", "--addresses", list, "--out", tok]);
    expect(t.code).toBe(0);
    expect(readFileSync(tok, "utf8")).toContain(`# addresses: ${list}\n`);
    const out = join(dir, "joined.cred");
    const j = await hush(["join", "--token-file", tok, "--name", "joined", "--out", out], { env: NO_TARGET });
    expect(j.stderr).toContain("joined as");
    expect(j.code).toBe(0);
    expect(readFileSync(out, "utf8")).toContain(`# addresses: ${list}\n`);
    const r = await hush(["kv", "incr", "joined/n", "--ttl", "1m", "--credential-file", out], { env: NO_TARGET });
    expect(r.stdout.trim()).toBe("1");
  });
});

describe.skipIf(REDIS_MISSING !== null)("a daemon killed with SIGKILL after the request reached it (two daemons on Redis)", () => {
  let redis: TestRedis;
  let backendArgs: string[];
  let d2: Daemon;
  let reader: Client;

  beforeAll(async () => {
    redis = await startTestRedis();
    const dir = tempDir();
    backendArgs = await clusterArgs(redis, dir, new Set());
    d2 = await startDaemon(backendArgs);
    cleanup.push(d2);
    reader = new Client({ socket: d2.socket, credential: await d2.issue("reader"), transport: "http" });
  });
  afterAll(async () => {
    reader?.close();
    await redis?.stop();
  });

  for (const transport of ["ws", "http"] as const) {
    test(`over ${transport}: "may have been carried out", and not sent to the other daemon`, async () => {
      const d1 = await startDaemon(backendArgs);
      cleanup.push(d1);
      const key = `killed/${transport}`;
      const c = new Client({ url: `unix:${d1.socket},unix:${d2.socket}`, credential: await d1.issue("w"), transport, retries: 0 });
      try {
        expect(await c.incr(key, 1, { ttlMs: 60_000 })).toBe(1); // served by d1
        // Stopped, d1 still accepts connections (the kernel queues them) but answers nothing.
        d1.proc.kill("SIGSTOP");
        const call = c.incr(key, 1, { ttlMs: 60_000 }).then(
          () => null,
          (e) => e,
        );
        await Bun.sleep(300); // the request is written to d1's socket
        d1.proc.kill("SIGKILL");
        await d1.proc.exited;
        const e = await call;
        expect(e).toBeInstanceOf(HushError);
        expect(e.code).toBe("unavailable");
        expect(e.detail.sent).toBe(true);
        expect(e.message).toContain("may have been carried out");
        // Never replayed: the counter, read through d2, moved once (the first call).
        await Bun.sleep(200);
        expect(await reader.get(key)).toBe(1);
        // d1 is gone (its socket refuses): the next call is served by d2 with d1's credential
        // (keys are shared in Redis), once.
        expect(await c.incr(key, 1, { ttlMs: 60_000 })).toBe(2);
        expect(await reader.get(key)).toBe(2);
      } finally {
        c.close();
      }
    });
  }

  // Over HTTP: a one-shot CLI opens a new connection, and over WebSocket its upgrade would go
  // unanswered — nothing sent, so moving on would be right (and is what the transport does).
  test("the CLI (HTTP) says the same and exits 6", async () => {
    const d1 = await startDaemon(backendArgs);
    cleanup.push(d1);
    const env = { ...NO_TARGET, HUSH_URL: `unix:${d1.socket},unix:${d2.socket}`, HUSH_CREDENTIAL: await d1.issue("cli"), HUSH_TRANSPORT: "http" };
    expect((await hush(["kv", "incr", "killed/cli", "--ttl", "1m"], { env })).stdout.trim()).toBe("1");
    d1.proc.kill("SIGSTOP");
    const run = hush(["kv", "incr", "killed/cli", "--ttl", "1m"], { env });
    await waitFor(() => queuedConnections(d1.socket) > 0, 20_000, "the CLI's connection to the stopped daemon");
    await Bun.sleep(200); // its request follows the connection at once
    d1.proc.kill("SIGKILL");
    const r = await run;
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("may have been carried out");
    await waitFor(async () => (await reader.get("killed/cli")) === 1, 2000, "the counter to read 1");
    expect(await reader.get("killed/cli")).toBe(1);
  });
});
