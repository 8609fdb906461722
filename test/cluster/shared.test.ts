/**
 * Several daemons' views of one Redis (docs/CLUSTER.md): two backends on
 * the same prefix share locks, tokens and the replay cache; nothing secret
 * reaches Redis in clear (every key and value, and MONITOR's record of every
 * command, scanned for every secret the test used, raw and encoded); a
 * daemon with another cluster key, or a Redis that may evict, is refused;
 * a killed or stalled Redis makes calls fail `unavailable`, and the backend
 * recovers by itself, in a new epoch with its quiet period after a loss.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { HushError } from "../../src/errors.ts";
import { randomBytes, toB64u, toHex, utf8 } from "../../src/crypto/index.ts";
import { openRedisBackend, parseBackendUrl, type ConnectionEvent, type RedisBackend } from "../../src/cluster/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { codeOfCall } from "./_cluster.ts";

let redis: TestRedis;
const open: RedisBackend[] = [];
const KEY = new Uint8Array(32).fill(9);

async function backend(prefix: string, o: { key?: Uint8Array; windowMs?: number; timeoutMs?: number; events?: ConnectionEvent[] } = {}): Promise<RedisBackend> {
  const b = await openRedisBackend({
    target: parseBackendUrl(redis.url),
    password: redis.password,
    clusterKey: (o.key ?? KEY).slice(),
    prefix,
    timeoutMs: o.timeoutMs ?? 2000,
    windowMs: o.windowMs ?? 60_000,
    perKey: 5,
    onEvent: (e) => o.events?.push(e),
  });
  open.push(b);
  return b;
}

const fresh = () => `hush:${toB64u(randomBytes(6))}:`;


async function until(what: string, f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(25);
  }
}

beforeAll(async () => {
  if (!REDIS_MISSING) redis = await startTestRedis();
});
afterAll(async () => {
  for (const b of open) b.store.close();
  await redis?.stop();
});

if (REDIS_MISSING) console.warn(`shared state (redis): skipped: ${REDIS_MISSING}`);

describe.skipIf(REDIS_MISSING !== null)("two daemons on one Redis", () => {
  test("a lock taken through one is refused through the other; tokens rise across both", async () => {
    const p = fresh();
    const [a, b] = [await backend(p), await backend(p)];
    const t1 = await a.store.acquireLock("deploy", 60_000, "host-a", "w_a");
    expect(await codeOfCall(() => b.store.acquireLock("deploy", 60_000, "host-b", "w_b"))).toBe("conflict");
    expect(await codeOfCall(() => b.store.releaseLock("deploy", t1.token, "w_b"))).toBe("conflict");
    await b.store.releaseLock("deploy", t1.token, "w_a"); // the owner, through the other daemon
    const tokens = [t1.token];
    for (let i = 0; i < 6; i++) {
      const s = (i % 2 ? a : b).store;
      const t = await s.acquireLock("deploy", 60_000, undefined, "w_x");
      tokens.push(t.token);
      await s.releaseLock("deploy", t.token, "w_x");
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
  });

  test("a nonce remembered by one daemon is a replay for the other; the key's share holds across both", async () => {
    const p = fresh();
    const [a, b] = [await backend(p), await backend(p)];
    const now = Date.now();
    expect(await a.replay.remember("w_k", "n1", now, now)).toBe("ok");
    expect(await b.replay.remember("w_k", "n1", now, now)).toBe("replay");
    expect(await a.replay.remember("w_k", "n1", now, now)).toBe("replay");
    expect(await b.replay.remember("w_other", "n1", now, now)).toBe("ok");
    for (let i = 2; i <= 5; i++) expect(await (i % 2 ? a : b).replay.remember("w_k", `n${i}`, now, now)).toBe("ok");
    expect(await a.replay.remember("w_k", "n6", now, now)).toBe("full"); // share 5
    expect(a.replay.refusals.get("replay_cache_per_key")).toBe(1);
    // An entry lives past the window (plus the skew allowance), then gives way.
    const old = now - 70_000;
    expect(await b.replay.remember("w_old", "x", old, now)).toBe("ok");
    expect(await a.replay.remember("w_old", "x", old, now + 5_001)).toBe("ok");
  });

  test("nothing secret is in Redis in clear: every key and value, and MONITOR's record, scanned for every secret used", async () => {
    const p = fresh();
    const [a, b] = [await backend(p), await backend(p)];
    const monitor = await redis.monitor();
    const secrets = ["v4lue-S3CRET-one", "kv-name-customer-acme-prod-db", "lock-name-migrate-billing", "pool-name-test-accounts", "holder-ci-runner-42", "counter-name-builds-secret-team", "claimed-name-fixture-secret", "m4de-S3CRET-two"];
    await a.store.set(secrets[1], utf8(JSON.stringify({ password: secrets[0] })), { ttlMs: 60_000 });
    expect(new TextDecoder().decode((await b.store.get(secrets[1])).valueJson)).toContain(secrets[0]);
    await b.store.acquireLock(secrets[2], 60_000, secrets[4], "w_a");
    await a.store.leasePool(secrets[3], 4, 60_000, secrets[4], "w_a");
    await b.store.incr(secrets[5], 41, 60_000);
    await a.store.incr(secrets[5], 1);
    expect((await b.store.listPage("")).keys).toEqual([secrets[1], secrets[5]].sort());
    expect(await a.store.releaseOwner("w_a")).toEqual({ locks: [secrets[2]], pools: [secrets[3]], claims: [] });
    await b.store.set(secrets[1], utf8(JSON.stringify(secrets[0])), { ttlMs: 60_000 });
    const claim = await a.store.claimKey(secrets[6], 60_000, "w_b");
    expect(claim.state).toBe("claimed");
    await b.store.set(secrets[6], utf8(JSON.stringify(secrets[7])), { ttlMs: 60_000, ifAbsent: true, slide: true });
    const got = await b.store.claimKey(secrets[6], 60_000, "w_c");
    if (got.state !== "value") throw new Error("expected the value");
    expect(new TextDecoder().decode(got.valueJson)).toContain(secrets[7]);
    expect((await a.store.releaseOwner("w_b")).claims).toEqual([secrets[6]]);
    const dump = await redis.dump();
    const log = await monitor.stop();
    expect(log).toContain("EVALSHA"); // MONITOR did see the commands
    expect(dump).toContain(`${p}k:`);
    // The scan can fail: a value planted in clear is found.
    await redis.admin("SET", `${p}planted`, secrets[0]);
    expect(await redis.dump()).toContain(secrets[0]);
    await redis.admin("DEL", `${p}planted`);
    for (const text of [dump, log]) {
      for (const s of secrets) {
        for (const form of encodings(s)) expect(text.includes(form) ? `${s} as ${form}` : "").toBe("");
      }
      for (const form of encodings(KEY)) expect(text.includes(form)).toBe(false);
    }
  });

  test("a daemon with another cluster key is refused at start", async () => {
    const p = fresh();
    await backend(p);
    const e = await openRedisBackend({ target: parseBackendUrl(redis.url), password: redis.password, clusterKey: new Uint8Array(32).fill(1), prefix: p, timeoutMs: 2000, windowMs: 60_000, perKey: 5 }).catch((x) => x);
    expect(e).toBeInstanceOf(HushError);
    expect(e.message).toContain("cluster key differs");
  });

  test("a wrong password, or a Redis that may evict, is refused at start with a reason", async () => {
    const wrong = await openRedisBackend({ target: parseBackendUrl(redis.url), password: "nope", clusterKey: KEY.slice(), prefix: fresh(), timeoutMs: 2000, windowMs: 60_000, perKey: 5 }).catch((x) => x);
    expect(wrong.code).toBe("unavailable");
    expect(wrong.message).not.toContain("nope");
    await redis.admin("CONFIG", "SET", "maxmemory-policy", "allkeys-lru");
    try {
      const e = await backend(fresh()).catch((x) => x);
      expect(e.message).toContain("noeviction");
    } finally {
      await redis.admin("CONFIG", "SET", "maxmemory-policy", "noeviction");
    }
  });
});

describe.skipIf(REDIS_MISSING !== null)("when Redis fails", () => {
  test("stalled: calls fail unavailable within the deadline; it recovers when Redis answers again", async () => {
    const b = await backend(fresh(), { timeoutMs: 300 });
    await b.store.set("k", utf8("1"), { ttlMs: 60_000 });
    redis.pause();
    try {
      const t = Date.now();
      expect(await codeOfCall(() => b.store.get("k"))).toBe("unavailable");
      expect(Date.now() - t).toBeLessThan(2000);
      await Promise.all([1, 2, 3].map(() => codeOfCall(() => b.store.get("k"))));
      expect(b.store.unavailable()).toContain("did not answer");
    } finally {
      redis.resume();
    }
    await until("recovery", () => b.store.unavailable() === null);
    expect(new TextDecoder().decode((await b.store.get("k")).valueJson)).toBe("1");
  });

  test("killed and restarted empty: unavailable, then a new epoch with a quiet period; tokens still rise", async () => {
    const p = fresh();
    const events: ConnectionEvent[] = [];
    const [a, b] = [await backend(p, { windowMs: 1500, events }), await backend(p, { windowMs: 1500 })];
    const before = await a.store.acquireLock("l", 60_000, undefined, "w_a");
    await a.store.set("k", utf8("1"), { ttlMs: 60_000 });
    await redis.kill();
    expect(await codeOfCall(() => a.store.get("k"))).toBe("unavailable");
    await until("down", () => a.store.unavailable() !== null && b.store.unavailable() !== null);
    expect(await codeOfCall(() => b.replay.remember("w_k", "n", Date.now(), Date.now()))).toBe("unavailable");
    await redis.start();
    await until("a new epoch", () => events.some((e) => e.type === "up" && e.lost));
    await until("both reconnected", () => a.connection.epoch === b.connection.epoch && a.connection.quietUntil > 0);
    // Quiet: requests signed before its end are refused, with a time to come back.
    const now = Date.now();
    const quiet = await b.replay.remember("w_k", "n", now, now).catch((e) => e);
    expect(quiet.code).toBe("unavailable");
    expect(quiet.detail.retryAfter).toBeGreaterThanOrEqual(1);
    expect(a.store.unavailable()).toContain("quiet");
    await until("the quiet period ends", () => a.store.unavailable() === null, 5000);
    const t = Date.now();
    expect(await b.replay.remember("w_k", "n", t, t)).toBe("ok");
    // What was there is gone, and says so by its absence; fencing tokens keep rising.
    expect(await codeOfCall(() => a.store.get("k"))).toBe("not_found");
    const after = await b.store.acquireLock("l", 60_000, undefined, "w_b");
    expect(after.token).toBeGreaterThan(before.token);
    expect(a.connection.epochs).toBe(1);
  }, 30_000);
});

/** A secret as text, and the encodings it could leak in. */
function encodings(s: string | Uint8Array): string[] {
  const b = typeof s === "string" ? utf8(s) : s;
  const out = [toB64u(b), Buffer.from(b).toString("base64"), toHex(b)];
  if (typeof s === "string") out.push(s, JSON.stringify(s), encodeURIComponent(s));
  return out.filter((x) => x.length >= 8);
}

const OPENSSL = Bun.which("openssl");

describe.skipIf(REDIS_MISSING !== null || !OPENSSL)("rediss:// (TLS to Redis on another host)", () => {
  test("connects with --backend-ca's CA and verifies the server; refuses a server it cannot verify", async () => {
    const dir = `${redis.dir}/tls`;
    mkdirSync(dir, { recursive: true });
    const sh = (cmd: string) => Bun.spawnSync(["sh", "-c", cmd], { cwd: dir, stdout: "ignore", stderr: "ignore" }).exitCode;
    expect(sh(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=hush-test-ca && " +
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost && " +
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && " +
      "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext",
    )).toBe(0);
    let proc: ReturnType<typeof Bun.spawn> | undefined;
    let port = 0;
    for (let i = 0; i < 5 && !port; i++) {
      const p = 20000 + Math.floor(Math.random() * 30000);
      proc = Bun.spawn(["redis-server", "--port", "0", "--tls-port", String(p), "--bind", "127.0.0.1", "--tls-cert-file", `${dir}/srv.pem`, "--tls-key-file", `${dir}/srv.key`, "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--requirepass", redis.password], { stdout: "ignore", stderr: "ignore" });
      await Bun.sleep(400);
      if (proc.exitCode === null) port = p;
    }
    try {
      expect(port).toBeGreaterThan(0);
      const open = (ca?: string) =>
        openRedisBackend({ target: parseBackendUrl(`rediss://127.0.0.1:${port}`), password: redis.password, ca, clusterKey: KEY.slice(), prefix: "hush:", timeoutMs: 2000, windowMs: 60_000, perKey: 5 });
      const b = await open(await Bun.file(`${dir}/ca.pem`).text());
      await b.store.set("over-tls", utf8("1"), { ttlMs: 60_000 });
      expect(new TextDecoder().decode((await b.store.get("over-tls")).valueJson)).toBe("1");
      b.store.close();
      const refused = await open().catch((e) => e);
      expect(refused).toBeInstanceOf(HushError);
      expect(refused.message).toContain("cannot connect");
    } finally {
      proc?.kill("SIGKILL");
    }
  });
});
