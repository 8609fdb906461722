/**
 * Worker and admin keys shared by several `hush serve` processes (the
 * compiled binary) on one real Redis (docs/CLUSTER.md §10): a key issued
 * through daemon A works through daemon B; a revocation, a demanded
 * rotation or a rekey made through one daemon takes effect on the next
 * request to the other; listings on either show every key; nothing secret
 * of a key (credential, MAC and encryption keys, raw and encoded) reaches
 * Redis (every key and value, MONITOR), the daemons' logs or audit files.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/index.ts";
import { toB64u, toHex, utf8 } from "../../src/crypto/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { hush, startDaemon, tempDir, type Daemon } from "../e2e/_harness.ts";
import { codeOf } from "./_cluster.ts";

if (REDIS_MISSING) console.warn(`shared keys e2e: skipped: ${REDIS_MISSING}`);

let redis: TestRedis;
let dir: string;
let args: string[];
let monitor: { stop(): Promise<string> } | undefined;
let a: Daemon;
let b: Daemon;
const daemons: Daemon[] = [];
const audits: string[] = [];
/** Every secret the test used, as text, and as bytes (MAC and encryption keys). */
const secrets = new Set<string>();
const secretBytes: Uint8Array[] = [];

async function daemon(): Promise<Daemon> {
  const audit = join(dir, `audit-${audits.length}.log`);
  audits.push(audit);
  const d = await startDaemon([...args, "--audit-file", audit]);
  daemons.push(d);
  return d;
}

/** Remember a credential and the keys inside it as secrets. */
function keep(cred: string): string {
  secrets.add(cred);
  const c = decodeCredential(cred);
  secretBytes.push(c.macKey, c.encKey);
  return cred;
}

const client = (d: Daemon, cred: string) => new Client({ socket: d.socket, credential: cred, transport: "http", retries: 0, autoRekey: false });

/** `hush workers list --json` (one JSON line per key). */
async function listed(d: Daemon): Promise<{ id: string; status: string }[]> {
  const r = await d.cli(["workers", "list", "--json"]);
  expect(r.code).toBe(0);
  return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

describe.skipIf(REDIS_MISSING !== null)("worker and admin keys shared by two daemons (compiled binary)", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
    dir = tempDir();
    const keyFile = join(dir, "cluster.key");
    expect((await hush(["keygen", "cluster", "--out", keyFile])).code).toBe(0);
    secrets.add(readFileSync(keyFile, "utf8").split("\n").find((l) => l.startsWith("HUSH-CLUSTER-KEY-"))!);
    const pw = join(dir, "redis.pass");
    writeFileSync(pw, redis.password + "\n", { mode: 0o600 });
    secrets.add(redis.password);
    args = ["--backend", redis.url, "--cluster-key-file", keyFile, "--backend-password-file", pw];
    monitor = await redis.monitor();
    [a, b] = [await daemon(), await daemon()];
  });

  afterAll(async () => {
    await monitor?.stop();
    for (const d of daemons) d.cleanup();
    await redis?.stop();
  });

  test("a worker issued through A works through B, and B's listing shows it", async () => {
    const cred = keep(await a.issue("shared-w"));
    const viaA = client(a, cred);
    const viaB = client(b, cred);
    await viaB.set("shared/k", "from-b", { ttlMs: 60_000 });
    expect(await viaA.get("shared/k")).toBe("from-b");
    const id = decodeCredential(cred).keyId;
    expect((await listed(b)).map((w) => w.id)).toContain(id);
  });

  test("a revoke through A refuses the next request through B (which had the key cached)", async () => {
    const cred = keep(await a.issue("revoked-w"));
    const viaB = client(b, cred);
    await viaB.set("rev/k", 1, { ttlMs: 60_000 }); // B has the record cached now
    const id = decodeCredential(cred).keyId;
    const r = await a.cli(["workers", "revoke", id]);
    expect(r.code).toBe(0);
    expect(await codeOf(viaB.get("rev/k"))).toBe("auth_failed");
    expect(await codeOf(client(a, cred).get("rev/k"))).toBe("auth_failed");
    expect((await listed(b)).find((w) => w.id === id)?.status).toBe("revoked");
  });

  test("a rotation demanded through B is enforced through A; a rekey through A is accepted through B, and the old key then is not", async () => {
    const cred = keep(await a.issue("rotated-w"));
    const id = decodeCredential(cred).keyId;
    const viaA = client(a, cred);
    await viaA.set("rot/k", 1, { ttlMs: 60_000 }); // A has the record cached
    expect((await b.cli(["rotate", "worker", id])).code).toBe(0);
    expect(await codeOf(viaA.get("rot/k"))).toBe("rekey_required");
    await viaA.rekey(); // answered by A
    const fresh = keep(viaA.credential);
    expect(fresh).not.toBe(cred);
    expect(await client(b, fresh).get("rot/k")).toBe(1); // its first use, through B, confirms it
    expect(await viaA.get("rot/k")).toBe(1);
    // The demanded rotation is complete: the old key is retired on both daemons.
    expect(await codeOf(client(b, cred).get("rot/k"))).toBe("auth_failed");
    expect(await codeOf(client(a, cred).get("rot/k"))).toBe("auth_failed");
  });

  test("an admin key made on A's host (hush keygen admin) signs admin requests through B", async () => {
    const r = await a.cli(["keygen", "admin", "--name", "adm"]);
    expect(r.code).toBe(0);
    const cred = keep(r.stdout.trim().split("\n").find((l) => l.startsWith("HUSH-ADMIN-1"))!);
    const admin = new Client({ socket: b.socket, credential: cred, transport: "http", retries: 0, autoRekey: false });
    const { workers } = await admin.call<{ workers: { id: string }[] }>("GET", "/v1/admin/workers");
    expect(workers.length).toBeGreaterThan(0);
  });

  test("nothing secret of a key is in Redis, MONITOR's record, the daemons' logs or audit files", async () => {
    const dump = await redis.dump();
    const log = await monitor!.stop();
    monitor = undefined;
    expect(dump).toContain(`${redis.prefix}w:`); // the key records are there, sealed
    expect(log).toContain("EVALSHA");
    const logs = daemons.map((d) => d.log()).join("\n");
    const auditText = audits.map((f) => (existsSync(f) ? readFileSync(f, "utf8") : "")).join("\n");
    expect(auditText).toContain("admin.workers");
    const forms = new Set<string>();
    for (const s of secrets) for (const f of [s, JSON.stringify(s), toB64u(utf8(s)), Buffer.from(s).toString("base64"), toHex(utf8(s))]) forms.add(f);
    for (const k of secretBytes) for (const f of [toB64u(k), Buffer.from(k).toString("base64"), toHex(k), Buffer.from(k).toString("latin1")]) forms.add(f);
    expect(secretBytes.length).toBeGreaterThanOrEqual(8);
    for (const f of forms) {
      for (const [where, text] of [["redis", dump], ["monitor", log], ["logs", logs], ["audit", auditText]]) {
        expect(text.includes(f) ? `${where}: ${f}` : "").toBe("");
      }
    }
  });
});
