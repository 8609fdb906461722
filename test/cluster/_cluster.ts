/**
 * Helpers of the tests that start several daemons on one test Redis: the
 * files every daemon of a cluster shares (compiled binary), an in-process
 * daemon on the test Redis, the error code of a call, and the encodings a
 * secret scan looks for. Importing it does not need dist/hush (the harness,
 * which does, is loaded by clusterArgs only).
 */
import { expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HushError, type ErrorCode } from "../../src/errors.ts";
import { toB64u, toHex, utf8 } from "../../src/crypto/index.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { openRedisBackend, parseBackendUrl } from "../../src/cluster/index.ts";
import type { TestRedis } from "./_redis.ts";
import { tempDir } from "../_tmp.ts";
import type { Daemon as BinaryDaemon } from "../e2e/_harness.ts";

/**
 * A cluster key, a server key and the Redis password in `dir` (0600), the
 * key lines added to `secrets`; the `hush serve` arguments that use them.
 */
export async function clusterArgs(redis: TestRedis, dir: string, secrets: Set<string>): Promise<string[]> {
  const { hush } = await import("../e2e/_harness.ts");
  const keyFile = join(dir, "cluster.key");
  expect((await hush(["keygen", "cluster", "--out", keyFile])).code).toBe(0);
  const serverKey = join(dir, "server.key");
  expect((await hush(["keygen", "server", "--out", serverKey])).code).toBe(0);
  for (const f of [keyFile, serverKey]) secrets.add(readFileSync(f, "utf8").split("\n").find((l) => l.startsWith("HUSH-"))!);
  const pw = join(dir, "redis.pass");
  writeFileSync(pw, redis.password + "\n", { mode: 0o600 });
  return ["--backend", redis.url, "--cluster-key-file", keyFile, "--backend-password-file", pw, "--server-key-file", serverKey];
}

/** Two compiled daemons on one Redis, and that Redis's MONITOR record (started before them, for the secret scan). */
export interface Pair {
  a: BinaryDaemon;
  b: BinaryDaemon;
  monitor: { stop(): Promise<string> } | undefined;
}

/** Start MONITOR on `redis`, then two daemons with `args`, each writing its audit file (`audit-0.log`, `audit-1.log`) in `dir`. */
export async function startPair(redis: TestRedis, dir: string, args: string[]): Promise<Pair> {
  const { startDaemon } = await import("../e2e/_harness.ts");
  const monitor = await redis.monitor();
  const a = await startDaemon([...args, "--audit-file", join(dir, "audit-0.log")]);
  const b = await startDaemon([...args, "--audit-file", join(dir, "audit-1.log")]);
  return { a, b, monitor };
}

/** Stop what `startPair` started (either part may be missing after a failed start), then `redis`. */
export async function stopPair(p: Partial<Pair> | undefined, redis: TestRedis | undefined): Promise<void> {
  await p?.monitor?.stop();
  p?.a?.cleanup();
  p?.b?.cleanup();
  await redis?.stop();
}

/** `ok`, or the HushError code the call ended with (`other: …` for any other error). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof HushError ? e.code : `other: ${e}`;
  }
}

/** `ok`, or the HushError code `f` threw (sync or async); any other error is thrown on. */
export async function codeOfCall(f: () => unknown): Promise<ErrorCode | "ok"> {
  try {
    await f();
    return "ok";
  } catch (e) {
    if (e instanceof HushError) return e.code;
    throw e;
  }
}

/**
 * A daemon in this process (src/server/daemon.ts, the secure defaults) on
 * `redis` under `prefix`, sealing with a cluster key of 32 × `keyByte`, its
 * socket in a fresh test directory (`dirPrefix`). The caller stops it.
 */
export async function inProcessDaemon(redis: TestRedis, prefix: string, keyByte: number, dirPrefix: string): Promise<Daemon> {
  const backend = await openRedisBackend({
    target: parseBackendUrl(redis.url),
    password: redis.password,
    clusterKey: new Uint8Array(32).fill(keyByte),
    prefix,
    timeoutMs: 2000,
    windowMs: DEFAULTS.clockWindowMs,
    perKey: DEFAULTS.nonceCachePerKey,
  });
  const socketPath = join(tempDir(dirPrefix), "run", "hush.sock");
  return startDaemon({ ...DEFAULTS, socketPath }, { version: "test", log: new Logger({ level: "error" }), backend });
}

/** Every form a scan looks for: each string raw, as JSON, base64url, base64 and hex; each byte string as base64url, base64 and hex. */
export function secretForms(strings: Iterable<string>, bytes: Iterable<Uint8Array> = []): Set<string> {
  const forms = new Set<string>();
  for (const s of strings) for (const f of [s, JSON.stringify(s), toB64u(utf8(s)), Buffer.from(s).toString("base64"), toHex(utf8(s))]) forms.add(f);
  for (const k of bytes) for (const f of [toB64u(k), Buffer.from(k).toString("base64"), toHex(k)]) forms.add(f);
  return forms;
}
