/**
 * The SDK's coordination semantics in Node, through the bundle
 * (dist/sdk/index.mjs) under `hush run`, as jest/vitest/Playwright workers use
 * it: parallel processes share a counter under withLock (exact), make a
 * fixture once with getOrSet, wait for a pool slot, and see camelCase
 * results, ttl(), idempotent releases, Symbol.asyncDispose, AbortSignal, a
 * closed client's error and the missing-credential message.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hush, tempDir } from "./_harness.ts";

const SDK = resolve(import.meta.dir, "../../dist/sdk/index.mjs");
const hasNode = Bun.which("node") !== null;

describe.skipIf(!hasNode)("SDK semantics in Node (dist/sdk/index.mjs)", () => {
  test("withLock, getOrSet and a waiting lease across parallel Node processes", async () => {
    const dir = tempDir();
    const worker = join(dir, "worker.mjs");
    writeFileSync(
      worker,
      `import { Client } from ${JSON.stringify(SDK)};
const hush = Client.fromEnv();
const id = Number(process.argv[2]);
const made = [];
const db = await hush.getOrSet("fixture/db", async () => { made.push(id); await new Promise((r) => setTimeout(r, 200)); return { url: "db-" + id }; },
  { ttlMs: 60000, wait: { timeoutMs: 30000, retryDelayMs: 20 } });
for (let i = 0; i < 5; i++) {
  await hush.withLock("counter", async (signal) => {
    let v = 0;
    try { v = await hush.get("n", { signal }); } catch (e) { if (e.code !== "not_found") throw e; }
    await new Promise((r) => setTimeout(r, 5));
    await hush.set("n", v + 1, { ttlMs: 60000, signal });
  }, { ttlMs: 2000, wait: { timeoutMs: 30000, retryDelayMs: 10 } });
}
const lease = await hush.lease("one-slot", { size: 1, ttlMs: 5000, wait: { timeoutMs: 30000, retryDelayMs: 20 } });
await new Promise((r) => setTimeout(r, 50));
const released = await lease.release();
await hush[Symbol.asyncDispose]();
console.log(JSON.stringify({ id, made, db, released }));
`,
    );
    const main = join(dir, "main.mjs");
    writeFileSync(
      main,
      `import { Client, HushError } from ${JSON.stringify(SDK)};
import { spawn } from "node:child_process";
const runs = await Promise.all([0, 1, 2, 3].map((i) => new Promise((res, rej) => {
  const p = spawn(process.execPath, [${JSON.stringify(worker)}, String(i)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = ""; p.stdout.on("data", (d) => (out += d));
  p.on("exit", (c) => (c === 0 ? res(JSON.parse(out)) : rej(new Error("worker exit " + c))));
})));
const hush = Client.fromEnv();
const out = {
  makers: runs.flatMap((r) => r.made).length,
  dbs: [...new Set(runs.map((r) => r.db.url))].length,
  released: runs.every((r) => r.released === true),
  n: await hush.get("n"),
  ttl: await hush.ttl("n"),
};
const w = await hush.whoami();
out.whoami = Object.keys(w).sort().join(",");
const s = await hush.set("n", 0, { ifAbsent: true });
out.set = JSON.stringify(s);
const lock = await hush.lock("x", { ttlMs: 5000 });
const conflict = await hush.lock("x", { ttlMs: 5000 }).catch((e) => e);
out.conflictExpiresAt = conflict instanceof HushError && conflict.expiresAt === lock.expiresAt;
await lock[Symbol.asyncDispose]();
out.releasedTwice = await lock.release();
out.aborted = await hush.get("n", { signal: AbortSignal.abort() }).catch((e) => e.name);
hush.close();
out.closed = await hush.get("n").catch((e) => e.code + ":" + e.message);
delete process.env.HUSH_CREDENTIAL;
try { new Client(); } catch (e) { out.missing = e.message; }
console.log(JSON.stringify(out));
`,
    );
    const r = await hush(["run", "--", "node", main]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.makers).toBe(1); // one factory run for four processes
    expect(out.dbs).toBe(1);
    expect(out.released).toBe(true);
    expect(out.n).toBe(20); // 4 × 5 increments, none lost
    expect(out.ttl).toBeGreaterThan(0);
    expect(out.ttl).toBeLessThanOrEqual(60_000);
    expect(out.whoami).toBe("expiresAt,id,kind,name,rekeyRequired,serverPublic,tags");
    expect(JSON.parse(out.set)).toEqual({ expiresAt: expect.any(Number), written: false });
    expect(out.conflictExpiresAt).toBe(true);
    expect(out.releasedTwice).toBe(false);
    expect(out.aborted).toBe("AbortError");
    expect(out.closed).toStartWith("invalid_request:this hush client is closed");
    expect(out.missing).toContain("hush run -- <command>");
  }, 60_000);
});
