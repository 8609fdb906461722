/**
 * The SDK's coordination semantics against a real daemon (in this process):
 * camelCase results, set-if-absent, ttl(), sliding keys, waiting locks and
 * leases (with the holder's expiry on the conflict), withLock (renewal,
 * release on throw, an aborted signal when the lock is lost), getOrSet (one
 * factory run for many callers), idempotent releases, `await using`,
 * AbortSignal on calls and waits, rate-limit Retry-After as a number, and
 * the errors for a closed client and a missing credential.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { mintCredential } from "../../src/server/routes-admin.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client, HushError } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;
const clients: Client[] = [];

/** A client with a key of its own (`name`), or sharing `of`'s credential. */
function client(name: string, opts: { credential?: string } = {}): Client {
  const credential = opts.credential ?? mintCredential(d.state, d.state.registry.create({ kind: "worker", name, via: "issue" }));
  const c = new Client({ socket: d.socketPath, credential, autoRekey: false });
  clients.push(c);
  return c;
}

async function errorOf(p: Promise<unknown>): Promise<HushError> {
  try {
    await p;
  } catch (e) {
    return e as HushError;
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  dir = tempDir("hush-sdk-");
  d = await startDaemon({ ...DEFAULTS, socketPath: join(dir, "s", "hush.sock") }, { version: "t", log: new Logger({ write: () => {} }) });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("KV", () => {
  test("set answers camelCase { expiresAt, written }; ifAbsent keeps the first value; ttl() in ms", async () => {
    const c = client("kv");
    const t0 = Date.now();
    const a = await c.set("cfg", { n: 1 }, { ttlMs: 60_000, ifAbsent: true });
    expect(Object.keys(a).sort()).toEqual(["expiresAt", "written"]);
    expect(a.written).toBe(true);
    expect(a.expiresAt! - t0).toBeGreaterThanOrEqual(59_000);
    expect(await c.set("cfg", { n: 2 }, { ttlMs: 1000, ifAbsent: true })).toEqual({ expiresAt: a.expiresAt, written: false });
    expect(await c.get("cfg")).toEqual({ n: 1 });
    const left = await c.ttl("cfg");
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60_000);
    expect((await errorOf(c.ttl("missing"))).code).toBe("not_found");
    expect((await errorOf(c.set("cfg", 1, { ttlMs: 0 }))).code).toBe("invalid_ttl");
    const who = await c.whoami();
    expect(Object.keys(who).sort()).toEqual(["expiresAt", "id", "kind", "name", "rekeyRequired", "serverPublic", "tags"]);
  });

  test("a sliding key lives on while it is read; ttl() does not count as a read", async () => {
    const c = client("slide");
    await c.set("s", "v", { ttlMs: 600, slide: true });
    await c.set("f", "v", { ttlMs: 600 });
    for (let i = 0; i < 4; i++) {
      await Bun.sleep(250);
      expect(await c.get("s")).toBe("v");
      expect(await c.ttl("s")).toBeGreaterThan(250);
    }
    expect((await errorOf(c.get("f"))).code).toBe("not_found");
  });
});

describe("locks", () => {
  test("a conflict carries the holder's expiresAt; wait gets the lock once it is free, with a higher token", async () => {
    const a = client("lock-a");
    const b = client("lock-b");
    const held = await a.lock("L1", { ttlMs: 400 });
    const e = await errorOf(b.lock("L1", { ttlMs: 1000 }));
    expect(e.code).toBe("conflict");
    expect(e.expiresAt).toBe(held.expiresAt);
    expect(e.detail.expiresAt).toBe(held.expiresAt);
    const got = await b.lock("L1", { ttlMs: 1000, wait: { timeoutMs: 10_000, retryDelayMs: 50 } });
    expect(got.token).toBeGreaterThan(held.token);
    expect(Object.keys(got).sort()).toEqual(["expiresAt", "holder", "name", "release", "renew", "token"]);
    expect(await held.release()).toBe(false); // it ran out: nothing to release, no error
    expect(await got.release()).toBe(true);
    expect(await got.release()).toBe(false);
  });

  test("wait gives up at the deadline with the last conflict (expiresAt kept)", async () => {
    const a = client("lock-c");
    const held = await a.lock("L2", { ttlMs: 30_000 });
    const e = await errorOf(a.lock("L2", { ttlMs: 1000, wait: { timeoutMs: 150 } }));
    expect(e.code).toBe("conflict");
    expect(e.message).toContain("waited 150 ms");
    expect(e.expiresAt).toBe(held.expiresAt);
    await held.release();
    expect((await errorOf(a.lock("L2", { ttlMs: 1000, wait: { timeoutMs: -1 } }))).code).toBe("invalid_request");
  });

  test("renew moves expiresAt; `await using` releases at the end of the block", async () => {
    const c = client("using");
    let token = 0;
    {
      await using lock = await c.lock("L3", { ttlMs: 5000 });
      token = lock.token;
      const before = lock.expiresAt;
      await Bun.sleep(5);
      expect(await lock.renew(10_000)).toBe(lock.expiresAt);
      expect(lock.expiresAt).toBeGreaterThan(before);
    }
    const again = await c.lock("L3", { ttlMs: 1000 }); // free at once: the block released it
    expect(again.token).toBeGreaterThan(token);
    await again.release();
  });

  test("withLock renews past the TTL while fn runs, excludes others, releases after (also on throw)", async () => {
    const a = client("with-a");
    const b = client("with-b");
    let inside = false;
    const result = await a.withLock(
      "W1",
      async (signal, lock) => {
        inside = true;
        await Bun.sleep(700); // more than twice the TTL: only renewals keep it
        expect(signal.aborted).toBe(false);
        expect((await errorOf(b.lock("W1", { ttlMs: 1000 }))).code).toBe("conflict");
        return lock.token;
      },
      { ttlMs: 300 },
    );
    expect(inside).toBe(true);
    expect(typeof result).toBe("number");
    const free = await b.lock("W1", { ttlMs: 1000 });
    expect(free.token).toBeGreaterThan(result);
    await free.release();
    const boom = await errorOf(a.withLock("W1", async () => {
      throw new HushError("internal", "boom");
    }, { ttlMs: 1000 }));
    expect(boom.message).toBe("boom");
    await (await b.lock("W1", { ttlMs: 1000 })).release();
  });

  test("withLock: a lost lock aborts fn's signal, and withLock rejects even though fn resolved", async () => {
    const a = client("lost");
    let reason: unknown;
    const e = await errorOf(
      a.withLock(
        "W2",
        async (signal) => {
          d.state.store.releaseOwner(a.keyId); // the daemon ends the key's holds (as a revocation would)
          await new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
          reason = signal.reason;
          return "done";
        },
        { ttlMs: 150 },
      ),
    );
    expect(e.code).toBe("not_found");
    expect(e.message).toContain("was lost while the function ran");
    expect(reason).toBe(e);
  });
});

describe("pools", () => {
  test("camelCase lease; wait for a slot; renew; idempotent release; one per holder", async () => {
    const a = client("pool-a");
    const b = client("pool-b");
    const l = await a.lease("P1", { size: 1, ttlMs: 300, holder: "x" });
    expect(Object.keys(l).sort()).toEqual(["expiresAt", "holder", "pool", "release", "renew", "slot", "token"]);
    const e = await errorOf(b.lease("P1", { size: 1, ttlMs: 1000 }));
    expect(e.expiresAt).toBe(l.expiresAt);
    const renewed = await l.renew();
    expect(renewed).toBe(l.expiresAt);
    const next = await b.lease("P1", { size: 1, ttlMs: 1000, wait: { timeoutMs: 10_000, retryDelayMs: 50 } });
    expect(next.token).toBeGreaterThan(l.token);
    expect((await errorOf(l.renew())).code).toBe("not_found");
    expect(await l.release()).toBe(false);
    expect((await errorOf(b.lease("P1", { size: 2, ttlMs: 1000, wait: { timeoutMs: 5000 } }))).detail.size).toBe(1); // another size: no wait
    await next[Symbol.asyncDispose]();
    await a.lease("P2", { size: 4, ttlMs: 5000, holder: "w1", onePerHolder: true });
    const other = await errorOf(b.lease("P2", { size: 4, ttlMs: 5000, holder: "w1" }));
    expect(other.code).toBe("conflict");
    expect(other.message).toContain("another key holds a slot under this holder name");
  });
});

describe("getOrSet", () => {
  test("many callers, one factory run; all get its value; a stored value skips the factory", async () => {
    const callers = [0, 1, 2, 3, 4].map((i) => client(`gos-${i}`));
    let runs = 0;
    const factory = async () => {
      runs++;
      await Bun.sleep(150);
      return { url: `db-${runs}` };
    };
    const values = await Promise.all(callers.map((c) => c.getOrSet("fixture/db", factory, { ttlMs: 60_000, wait: { timeoutMs: 10_000, retryDelayMs: 20 } })));
    expect(runs).toBe(1);
    expect(values).toEqual(values.map(() => ({ url: "db-1" })));
    expect(await callers[0].getOrSet("fixture/db", factory)).toEqual({ url: "db-1" });
    expect(runs).toBe(1);
  });

  test("a factory that throws releases the claim: its caller gets the error, a waiting caller makes the value", async () => {
    const [a, b] = [client("gos-x"), client("gos-y")];
    const failing = a.getOrSet("fixture/flaky", async () => {
      await Bun.sleep(100);
      throw new Error("no database today");
    }, { ttlMs: 60_000 });
    await Bun.sleep(20);
    const waiting = b.getOrSet("fixture/flaky", () => "made by b", { ttlMs: 60_000, wait: { timeoutMs: 10_000, retryDelayMs: 20 } });
    expect((await errorOf(failing)).message).toBe("no database today");
    expect(await waiting).toBe("made by b");
    expect((await d.state.store.stats()).claims).toBe(0);
  });

  test("the factory's signal aborts when the caller's signal does", async () => {
    const c = client("gos-abort");
    const ctl = new AbortController();
    let seen: AbortSignal | undefined;
    const p = c.getOrSet("fixture/slow", async (signal) => {
      seen = signal;
      ctl.abort(new Error("test over"));
      await Bun.sleep(50);
      return 1;
    }, { ttlMs: 1000, signal: ctl.signal });
    expect((await errorOf(p)).message).toBe("test over");
    expect(seen!.aborted).toBe(true);
  });
});

describe("AbortSignal, close, credentials, rate limits", () => {
  test("an aborted signal rejects with its reason, sends nothing; a wait is cut short", async () => {
    const c = client("abort");
    const e = await errorOf(c.set("never", 1, { ttlMs: 1000, signal: AbortSignal.abort() }));
    expect((e as unknown as Error).name).toBe("AbortError");
    expect((await errorOf(c.get("never"))).code).toBe("not_found");
    const held = await c.lock("A1", { ttlMs: 30_000 });
    const t = Date.now();
    const w = await errorOf(c.lock("A1", { ttlMs: 1000, wait: { timeoutMs: 30_000 }, signal: AbortSignal.timeout(100) }));
    expect((w as unknown as Error).name).toBe("TimeoutError");
    expect(Date.now() - t).toBeLessThan(20_000);
    await held.release();
  });

  test("a closed client says so; close and asyncDispose are idempotent", async () => {
    const c = client("closing");
    await c.whoami();
    await c[Symbol.asyncDispose]();
    c.close();
    const e = await errorOf(c.get("k"));
    expect(e.code).toBe("invalid_request");
    expect(e.message).toContain("closed");
    expect(e.detail.closed).toBe(true);
  });

  test("a missing credential points at hush run", () => {
    const saved = process.env.HUSH_CREDENTIAL;
    delete process.env.HUSH_CREDENTIAL;
    try {
      expect(() => new Client({ socket: d.socketPath })).toThrow(/hush run -- /);
    } finally {
      if (saved !== undefined) process.env.HUSH_CREDENTIAL = saved;
    }
  });

  test("rate_limited carries retryAfter as a number of seconds", async () => {
    const limited = await startDaemon(
      { ...DEFAULTS, socketPath: join(dir, "r", "hush.sock"), keyRate: { rate: 1, burst: 1 } },
      { version: "t", log: new Logger({ write: () => {} }) },
    );
    try {
      const credential = mintCredential(limited.state, limited.state.registry.create({ kind: "worker", name: "rl", via: "issue" }));
      const c = new Client({ socket: limited.socketPath, credential, autoRekey: false });
      let e: HushError | undefined;
      for (let i = 0; i < 5 && !e; i++) e = await c.whoami().then(() => undefined, (x) => x);
      expect(e!.code).toBe("rate_limited");
      expect(typeof e!.retryAfter).toBe("number");
      expect(e!.retryAfter).toBeGreaterThanOrEqual(1);
      c.close();
    } finally {
      await limited.stop();
    }
  });
});
