/**
 * Credential leases shared by several `hush serve` processes (the compiled
 * binary) on one real Redis (docs/CLUSTER.md §10), every daemon loading the
 * same `--creds-file`: an exclusive value checked out through daemon A is
 * refused through daemon B until it is returned (through B) or its lease
 * expires; a revocation through B frees the revoked worker's leases taken
 * through A; the per-worker lease cap counts a worker's leases on both
 * daemons; no credential value reaches Redis, MONITOR's record, a daemon's
 * log or an audit file, raw or encoded.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/index.ts";
import { toHex } from "../../src/crypto/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { clusterArgs, codeOf, secretForms, startPair, stopPair } from "./_cluster.ts";
import { tempDir, type Daemon } from "../e2e/_harness.ts";

if (REDIS_MISSING) console.warn(`shared credential leases e2e: skipped: ${REDIS_MISSING}`);

const uid = toHex(crypto.getRandomValues(new Uint8Array(6)));
const ACCOUNTS = [`acct-one-${uid}`, `acct-two-${uid}`];
const API = `api-key-${uid}`;
let redis: TestRedis;
let monitor: { stop(): Promise<string> } | undefined;
let a: Daemon;
let b: Daemon;
let dir: string;
const secrets = new Set<string>([...ACCOUNTS, API]);

async function worker(d: Daemon, name: string): Promise<{ id: string; at: (d: Daemon) => Client }> {
  const r = await d.cli(["workers", "issue", "--name", name, "--tags", "ci"]);
  expect(r.code).toBe(0);
  const credential = r.stdout.trim();
  secrets.add(credential);
  const at = (x: Daemon) => new Client({ socket: x.socket, credential, transport: "http", retries: 0, autoRekey: false });
  return { id: (await at(d).whoami()).id, at };
}

describe.skipIf(REDIS_MISSING !== null)("credential leases shared by two daemons (compiled binary)", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
    dir = tempDir();
    const cluster = await clusterArgs(redis, dir, secrets);
    const creds = join(dir, "creds.json");
    writeFileSync(creds, JSON.stringify({ ACCT: { values: ACCOUNTS, mode: "exclusive", allow: ["ci"] }, API: { value: API, allow: ["ci"] } }), { mode: 0o600 });
    const args = [...cluster, "--creds-file", creds, "--max-leases-per-worker", "3"];
    ({ a, b, monitor } = await startPair(redis, dir, args));
  });

  afterAll(async () => {
    await stopPair({ a, b, monitor }, redis);
  });

  test("an exclusive value checked out through A is refused through B until returned through B", async () => {
    const w1 = await worker(a, "w1");
    const w2 = await worker(b, "w2");
    const first = await w1.at(a).checkout("ACCT");
    const second = await w1.at(a).checkout("ACCT");
    expect(new Set([first.value, second.value])).toEqual(new Set(ACCOUNTS));
    // Both values are out (through A): B refuses every other worker, and A too.
    expect(await codeOf(w2.at(b).checkout("ACCT"))).toBe("conflict");
    expect(await codeOf(w2.at(a).checkout("ACCT"))).toBe("conflict");
    // Another worker cannot return w1's lease through B; w1 can.
    expect(await codeOf(w2.at(b).call("POST", `/v1/creds/leases/${first.leaseId}/return`, {}))).toBe("forbidden");
    await w1.at(b).call("POST", `/v1/creds/leases/${first.leaseId}/return`, {});
    const got = await w2.at(a).checkout("ACCT");
    expect(got.value).toBe(first.value);
    expect(await codeOf(w2.at(b).checkout("ACCT"))).toBe("conflict");
    // Both daemons count the whole cluster's leases.
    for (const d of [a, b]) {
      const r = await d.cli(["creds", "list", "--json"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/"name":"ACCT"[^}]*"in_use":2/);
    }
    await w1.at(b).call("POST", `/v1/creds/leases/${second.leaseId}/return`, {});
    await w2.at(b).call("POST", `/v1/creds/leases/${got.leaseId}/return`, {});
  });

  test("a lease taken through A that expires frees the value through B", async () => {
    const w3 = await worker(a, "w3");
    const w4 = await worker(b, "w4");
    const held = [await w3.at(a).checkout("ACCT", { ttlMs: 1500 }), await w3.at(a).checkout("ACCT", { ttlMs: 1500 })];
    expect(await codeOf(w4.at(b).checkout("ACCT"))).toBe("conflict");
    await Bun.sleep(held[0].expiresAt - Date.now() + 300);
    const after = await w4.at(b).checkout("ACCT");
    expect(ACCOUNTS).toContain(after.value);
    await after.return();
  });

  test("a worker revoked through B loses its leases taken through A", async () => {
    const w5 = await worker(a, "w5");
    const w6 = await worker(a, "w6");
    await w5.at(a).checkout("ACCT");
    await w5.at(a).checkout("ACCT");
    expect(await codeOf(w6.at(a).checkout("ACCT"))).toBe("conflict");
    expect((await b.cli(["workers", "revoke", w5.id])).code).toBe(0);
    const freed = await w6.at(a).checkout("ACCT");
    expect(ACCOUNTS).toContain(freed.value);
    await freed.return();
  });

  test("the per-worker lease cap counts a worker's leases on both daemons", async () => {
    const w7 = await worker(b, "w7");
    const leases = [await w7.at(a).checkout("API"), await w7.at(b).checkout("API"), await w7.at(a).checkout("API")];
    expect(leases.every((l) => l.value === API)).toBe(true);
    expect(await codeOf(w7.at(b).checkout("API"))).toBe("max_items");
    expect(await codeOf(w7.at(a).checkout("ACCT"))).toBe("max_items");
    await leases[1].return();
    expect((await w7.at(b).checkout("API")).value).toBe(API);
  });

  test("no credential value, worker credential or key is in Redis, MONITOR's record, a log or an audit file", async () => {
    const dump = await redis.dump();
    const log = await monitor!.stop();
    monitor = undefined;
    expect(dump).toContain(`${redis.prefix}cL:`);
    expect(dump).toContain(`${redis.prefix}cw:`);
    expect(log).toContain("EVALSHA");
    const texts = [dump, log, a.log(), b.log(), readFileSync(join(dir, "audit-0.log"), "utf8"), readFileSync(join(dir, "audit-1.log"), "utf8")];
    for (const f of secretForms(secrets)) for (const text of texts) expect(text.includes(f) ? f : "").toBe("");
  });
});
