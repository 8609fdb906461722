/**
 * A real redis-server for tests (docs/CLUSTER.md §1): in memory only
 * (`save ""`, `appendonly no`, `noeviction`), on a unix socket in a fresh
 * 0700 directory, the default user off, a `hush` user limited to its key
 * prefix and the commands hush uses (`aclRule`), and an `admin` user the
 * tests use to look at everything (scan, MONITOR), flush and restart.
 *
 * `REDIS_MISSING` says why the Redis tests skip (redis-server is not
 * installed) or is null when they run. Under `HUSH_REQUIRE_REDIS=1`, which
 * `.ci/run` sets after installing the Debian package, a missing Redis is an
 * error that fails every file importing this one: CI never skips them.
 * @module
 */
import { rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { randomBytes, toB64u } from "../../src/crypto/index.ts";
import { aclRule } from "../../src/cluster/index.ts";
import { tempDir } from "../_tmp.ts";

export const REDIS_SERVER = Bun.which("redis-server");
export const REDIS_CLI = Bun.which("redis-cli");
/** Why the Redis tests skip, or null when they run. */
export const REDIS_MISSING = REDIS_SERVER && REDIS_CLI ? null : "redis-server/redis-cli not installed (apt-get install redis-server; .ci/run does)";
if (REDIS_MISSING && process.env.HUSH_REQUIRE_REDIS === "1") throw new Error(`HUSH_REQUIRE_REDIS=1 but ${REDIS_MISSING}`);

export interface TestRedis {
  dir: string;
  socket: string;
  prefix: string;
  /** The hush user's password (what --backend-password-file holds). */
  password: string;
  /** `redis+unix://hush@localhost/…/redis.sock` (no password). */
  url: string;
  /** Run redis-cli as the admin user; stdout. */
  admin(...args: string[]): Promise<string>;
  /** Start `MONITOR` as the admin user; resolves once Redis has said OK (it sees every command from then on). `stop()` ends it and gives its whole record. */
  monitor(): Promise<{ stop(): Promise<string> }>;
  /** Every key and value under the prefix (strings, hashes, sets, sorted sets), as text. */
  dump(): Promise<string>;
  /** SIGKILL the server (all state gone: no persistence). */
  kill(): Promise<void>;
  /** Start it again on the same socket (empty). */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startTestRedis(prefix = "hush:"): Promise<TestRedis> {
  const dir = tempDir("hush-redis-");
  const socket = join(dir, "redis.sock");
  const password = toB64u(randomBytes(18));
  const adminPass = toB64u(randomBytes(18));
  const conf = join(dir, "redis.conf");
  writeFileSync(
    conf,
    [
      "port 0",
      `unixsocket ${socket}`,
      "unixsocketperm 700",
      'save ""',
      "appendonly no",
      "maxmemory-policy noeviction",
      `dir ${dir}`,
      "daemonize no",
      "user default off",
      `user admin on >${adminPass} ~* &* +@all`,
      `user hush on >${password} ${aclRule(prefix)}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const cli = async (...args: string[]) => {
    const p = Bun.spawn([REDIS_CLI!, "-s", socket, "--user", "admin", ...args], { env: { ...process.env, REDISCLI_AUTH: adminPass }, stdout: "pipe", stderr: "pipe" });
    const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    return out;
  };
  const start = async () => {
    proc = Bun.spawn([REDIS_SERVER!, conf], { stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 200; i++) {
      if (existsSync(socket) && (await cli("PING")).trim() === "PONG") return;
      await Bun.sleep(25);
    }
    throw new Error("redis-server did not start");
  };
  await start();
  const r: TestRedis = {
    dir,
    socket,
    prefix,
    password,
    url: `redis+unix://hush@localhost${socket}`,
    admin: cli,
    async monitor() {
      const p = Bun.spawn([REDIS_CLI!, "-s", socket, "--user", "admin", "MONITOR"], { env: { ...process.env, REDISCLI_AUTH: adminPass }, stdout: "pipe", stderr: "ignore" });
      const reader = (p.stdout as ReadableStream<Uint8Array>).getReader();
      const dec = new TextDecoder();
      let text = "";
      const deadline = Date.now() + 10_000;
      while (!/^OK$/m.test(text)) {
        const { value, done } = await reader.read();
        if (done || Date.now() > deadline) throw new Error("MONITOR did not start");
        text += dec.decode(value, { stream: true });
      }
      const rest = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return text;
          text += dec.decode(value, { stream: true });
        }
      })();
      return {
        async stop() {
          await Bun.sleep(50); // the last commands' lines
          p.kill();
          return await rest;
        },
      };
    },
    async dump() {
      const keys = (await cli("--scan", "--pattern", "*")).split("\n").filter(Boolean);
      const out: string[] = [];
      for (const k of keys) {
        const type = (await cli("TYPE", k)).trim();
        const cmd = { string: ["GET", k], hash: ["HGETALL", k], set: ["SMEMBERS", k], zset: ["ZRANGE", k, "0", "-1", "WITHSCORES"] }[type] ?? ["TYPE", k];
        out.push(`${k} ${await cli(...cmd)}`);
      }
      return out.join("\n");
    },
    async kill() {
      proc?.kill("SIGKILL");
      await proc?.exited;
      rmSync(socket, { force: true });
    },
    start,
    pause: () => proc?.kill("SIGSTOP"),
    resume: () => proc?.kill("SIGCONT"),
    async stop() {
      proc?.kill("SIGCONT");
      proc?.kill("SIGKILL");
      await proc?.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}
