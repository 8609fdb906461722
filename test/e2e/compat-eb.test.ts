/**
 * ephemeral-broker's black-box behaviour (its Client surface as published in
 * `@ephemeral-broker/core` 1.0.5: src/client.js and the broker handlers it
 * talks to), ported to run against hush's compatibility client
 * (src/client/compat-eb.ts) and the compiled binary: KV round trips, TTL,
 * size limits, max items, leases, a stale socket, shutdown, auth failures,
 * connection errors, health and stats, and a script under `hush run` that
 * builds the client from the environment as ephemeral-broker's examples do.
 * Where hush answers differently on purpose (docs/MIGRATING-FROM-EPHEMERAL-BROKER.md),
 * the test asserts hush's answer and says so.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, LEASE_PREFIX } from "../../src/client/compat-eb.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
/** A second daemon with --max-items 3 (also the "another daemon" of the auth test). */
let m: Daemon;
let cred: string;
const started: Daemon[] = [];
afterAll(() => started.forEach((x) => x.cleanup()));

beforeAll(async () => {
  [d, m] = await Promise.all([startDaemon(["--max-value", "1k", "--max-body", "64k", "--default-ttl", "30m"]), startDaemon(["--max-items", "3"])]);
  started.push(d, m);
  cred = await d.issue("eb");
});

const client = (opts: ConstructorParameters<typeof Client>[1] = {}, pipe = d.socket) => new Client(pipe, { credential: cred, ...opts });

describe("KV", () => {
  test("set, get, del, list round trip any JSON value; set answers true, del true even for a missing key", async () => {
    const c = client();
    for (const [k, v] of [["s", "text"], ["n", 42], ["o", { a: [1, { b: null }] }], ["u", "üñí 🔑"], ["b", false]] as const) {
      expect(await c.set(k, v, 60_000)).toBe(true);
      expect(await c.get(k)).toEqual(v);
    }
    const l = await c.list();
    expect(Object.keys(l).sort()).toEqual(expect.arrayContaining(["b", "n", "o", "s", "u"]));
    expect(l.s.hasValue).toBe(true);
    expect(Math.abs(l.s.expires! - (Date.now() + 60_000))).toBeLessThan(5_000);
    expect(await c.del("s")).toBe(true);
    expect(await c.del("s")).toBe(true);
    await expect(c.get("s")).rejects.toThrow("not_found");
    await expect(c.get("never")).rejects.toMatchObject({ message: "not_found", code: "not_found" });
  });
});

describe("TTL", () => {
  test("a key expires after its TTL (hush says not_found where ephemeral-broker says expired)", async () => {
    const c = client();
    await c.set("short", "v", 300);
    expect(await c.get("short")).toBe("v");
    await Bun.sleep(600);
    await expect(c.get("short")).rejects.toThrow("not_found");
    expect(Object.keys(await c.list())).not.toContain("short");
  });

  test("set without a TTL is refused by the client unless allowNoTtl; then (and for ttl 0) the daemon's default TTL applies", async () => {
    await expect(client().set("nottl", 1)).rejects.toThrow("TTL is required for set()");
    const c = client({ allowNoTtl: true });
    await c.set("nottl", 1);
    await c.set("zero", 2, 0);
    const l = await c.list();
    for (const k of ["nottl", "zero"]) expect(Math.abs(l[k].expires! - (Date.now() + 30 * 60_000))).toBeLessThan(5_000);
  });

  test("a negative TTL is invalid_ttl; so is one past hush's 30-day cap", async () => {
    await expect(client().set("neg", 1, -5)).rejects.toThrow("invalid_ttl");
    await expect(client().set("huge", 1, 31 * 86_400_000)).rejects.toThrow("invalid_ttl");
  });
});

describe("size limits", () => {
  test("a value over the value limit is too_large and not stored; one under it is stored", async () => {
    const c = client();
    await expect(c.set("big", "x".repeat(2000), 60_000)).rejects.toThrow("too_large");
    await expect(c.get("big")).rejects.toThrow("not_found");
    await c.set("fits", "x".repeat(900), 60_000);
    expect((await c.get("fits")).length).toBe(900);
  });
});

describe("max items", () => {
  test("past --max-items a new key is max_items; overwriting is fine; a delete makes room", async () => {
    const c = new Client(m.socket, { credential: await m.issue("items") });
    for (const k of ["a", "b", "c"]) await c.set(k, k, 60_000);
    await expect(c.set("d", "d", 60_000)).rejects.toThrow("max_items");
    await c.set("a", "again", 60_000);
    await c.del("b");
    await c.set("d", "d", 60_000);
    expect((await c.stats()).capacity).toMatchObject({ items: 3, maxItems: 3, atCapacity: true, warning: "at_capacity" });
    expect((await c.health()).status).toBe("degraded");
  });
});

describe("leases", () => {
  test("each worker gets the smallest free number; the same worker renews; another key while holding one is refused", async () => {
    const c = client();
    expect(await c.lease("accounts", "w1", 60_000)).toBe(0);
    expect(await c.lease("accounts", "w2", 60_000)).toBe(1);
    expect(await c.lease("accounts", "w1", 60_000)).toBe(0);
    await expect(c.lease("other", "w1", 60_000)).rejects.toThrow("worker_already_has_lease");
    expect(await c.release("w1")).toBe(true);
    expect(await c.release("w1")).toBe(false);
    expect(await c.lease("accounts", "w3", 60_000)).toBe(0);
    expect(await c.lease("other", "w1", 60_000)).toBe(0); // released: free to lease another key
    expect((await c.stats()).leases).toBe(3);
    expect(Object.keys(await c.list()).some((k) => k.startsWith(LEASE_PREFIX))).toBe(false);
    for (const w of ["w1", "w2", "w3"]) expect(await c.release(w)).toBe(true);
  });

  test("an expired lease frees its number", async () => {
    const c = client();
    expect(await c.lease("short", "e1", 300)).toBe(0);
    await Bun.sleep(600);
    expect(await c.lease("short", "e2", 60_000)).toBe(0);
    expect(await c.release("e1")).toBe(false);
  });

  test("key and worker id are required", async () => {
    await expect(client().lease("", "w")).rejects.toThrow("Key is required for lease()");
    await expect(client().lease("k", "")).rejects.toThrow("Worker ID is required for lease()");
    await expect(client().release("")).rejects.toThrow("Worker ID is required for release()");
  });
});

describe("health, stats, ping", () => {
  test("health says healthy with uptime, memory, capacity and connections; stats count items and leases; ping answers the time", async () => {
    const c = client();
    const h = await c.health();
    expect(h).toMatchObject({ ok: true, status: "healthy", connections: { draining: false } });
    expect(h.memory.rss).toBeGreaterThan(1 << 20);
    expect(h.connections.inFlight).toBeGreaterThanOrEqual(1);
    expect(h.uptime).toBeGreaterThan(0);
    const s = await c.stats();
    expect(s.items).toBe(Object.keys(await c.list()).length);
    expect(s.memory.approximateStoreBytes).toBeGreaterThan(0);
    const before = Date.now();
    expect(await c.ping()).toBeGreaterThanOrEqual(before);
    await expect(c.metrics()).rejects.toThrow(/admin-only/);
  });
});

describe("auth failures", () => {
  test("a revoked credential and one of another daemon are auth_failed", async () => {
    const other = await d.issue("revoked");
    const r = await d.cli(["workers", "revoke", decodeCredential(other).keyId]);
    expect({ code: r.code, err: r.stderr }).toMatchObject({ code: 0, err: expect.stringContaining("hush: revoked") });
    await expect(new Client(d.socket, { credential: other }).get("n")).rejects.toMatchObject({ message: "auth_failed", code: "auth_failed" });
    await expect(new Client(d.socket, { credential: await m.issue("foreign") }).ping()).rejects.toThrow("auth_failed");
  });
});

describe("connection errors, stale socket, shutdown", () => {
  test("no pipe at all throws at construction; a missing socket is ENOENT", async () => {
    const saved = { h: process.env.HUSH_SOCKET, e: process.env.EPHEMERAL_PIPE };
    delete process.env.HUSH_SOCKET;
    delete process.env.EPHEMERAL_PIPE;
    try {
      expect(() => new Client(undefined, { credential: cred })).toThrow("No pipe specified and EPHEMERAL_PIPE not set");
    } finally {
      if (saved.h !== undefined) process.env.HUSH_SOCKET = saved.h;
      if (saved.e !== undefined) process.env.EPHEMERAL_PIPE = saved.e;
    }
    const dir = tempDir("hush-eb-");
    await expect(client({}, join(dir, "hush.sock")).get("k")).rejects.toMatchObject({ code: "ENOENT" });
  });

  test("a daemon killed with SIGKILL leaves a stale socket; the next one reclaims it and serves; SIGTERM wipes, removes it, and clients get ENOENT", async () => {
    const dir = tempDir("hush-eb-stale-");
    const first = await startDaemon([], { dir });
    started.push(first);
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    expect(existsSync(first.socket)).toBe(true);
    const second = await startDaemon([], { dir });
    started.push(second);
    expect(second.log()).toContain("reclaimed a stale socket");
    const c = new Client(second.socket, { credential: await second.issue("again") });
    await c.set("k", "v", 60_000);
    expect(await c.get("k")).toBe("v");
    expect(await second.stop()).toBe(0);
    expect(existsSync(second.socket)).toBe(false);
    await expect(c.get("k")).rejects.toMatchObject({ code: "ENOENT" });
  }, 30_000);
});

test("under `hush run`, new Client() takes the socket and credential from the environment", async () => {
  const dir = tempDir("hush-eb-run-");
  const script = join(dir, "worker.ts");
  writeFileSync(
    script,
    `import { Client } from ${JSON.stringify(join(import.meta.dir, "../../src/client/compat-eb.ts"))};
const c = new Client();
await c.set("from-env", { ok: true }, 10_000);
const n = await c.lease("slots", "jest-1", 10_000);
console.log(JSON.stringify({ got: await c.get("from-env"), n, released: await c.release("jest-1") }));`,
  );
  const r = await hush(["run", "--", process.execPath, script]);
  expect({ code: r.code, err: r.code ? r.stderr : "" }).toEqual({ code: 0, err: "" });
  expect(JSON.parse(r.stdout.trim())).toEqual({ got: { ok: true }, n: 0, released: true });
}, 30_000);
