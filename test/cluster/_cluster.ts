/**
 * Helpers of the tests that start several daemons (the compiled binary) on
 * one test Redis: the files every daemon of a cluster shares, the error code
 * of a call, and the encodings a secret scan looks for.
 */
import { expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HushError } from "../../src/client/index.ts";
import { toB64u, toHex, utf8 } from "../../src/crypto/index.ts";
import type { TestRedis } from "./_redis.ts";
import { hush } from "../e2e/_harness.ts";

/**
 * A cluster key, a server key and the Redis password in `dir` (0600), the
 * key lines added to `secrets`; the `hush serve` arguments that use them.
 */
export async function clusterArgs(redis: TestRedis, dir: string, secrets: Set<string>): Promise<string[]> {
  const keyFile = join(dir, "cluster.key");
  expect((await hush(["keygen", "cluster", "--out", keyFile])).code).toBe(0);
  const serverKey = join(dir, "server.key");
  expect((await hush(["keygen", "server", "--out", serverKey])).code).toBe(0);
  for (const f of [keyFile, serverKey]) secrets.add(readFileSync(f, "utf8").split("\n").find((l) => l.startsWith("HUSH-"))!);
  const pw = join(dir, "redis.pass");
  writeFileSync(pw, redis.password + "\n", { mode: 0o600 });
  return ["--backend", redis.url, "--cluster-key-file", keyFile, "--backend-password-file", pw, "--server-key-file", serverKey];
}

/** `ok`, or the HushError code the call ended with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof HushError ? e.code : `other: ${e}`;
  }
}

/** Every form a scan looks for: each string raw, as JSON, base64url, base64 and hex; each byte string as base64url, base64 and hex. */
export function secretForms(strings: Iterable<string>, bytes: Iterable<Uint8Array> = []): Set<string> {
  const forms = new Set<string>();
  for (const s of strings) for (const f of [s, JSON.stringify(s), toB64u(utf8(s)), Buffer.from(s).toString("base64"), toHex(utf8(s))]) forms.add(f);
  for (const k of bytes) for (const f of [toB64u(k), Buffer.from(k).toString("base64"), toHex(k)]) forms.add(f);
  return forms;
}
