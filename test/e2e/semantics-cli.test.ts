/**
 * The CLI's coordination commands against dist/hush: kv set --if-absent and
 * --slide, kv ttl, --ttl 0, lock acquire --wait, idempotent lock and pool
 * releases, pool lease --wait and --one-per-holder, pool renew, the error
 * body's expires_at, and the daemon's --default-ttl / --sliding-ttl /
 * --no-ttl-required rules.
 *
 * No assertion depends on how fast a CLI call is (they run under load in
 * CI): TTLs that must not run out between two calls are long, expiries
 * that must happen are waited for (`--wait`), and slides are shown by
 * `expires_at` moving, measured against the clock around the call.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hush, rawRequest, startDaemon, type Daemon } from "./_harness.ts";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";

let d: Daemon;
let env: Record<string, string>;
let other: Record<string, string>;
beforeAll(async () => {
  d = await startDaemon(["--default-ttl", "60s", "--sliding-ttl"]);
  env = { HUSH_CREDENTIAL: await d.issue("sem-a") };
  other = { HUSH_CREDENTIAL: await d.issue("sem-b") };
});
afterAll(() => d.cleanup());

const cli = (args: string[], e = env, stdin?: string) => d.cli(args, { env: e, stdin });

describe("kv", () => {
  test("set --if-absent: the first write wins, the second exits 4 and changes nothing", async () => {
    expect((await cli(["kv", "set", "first", "--ttl", "1m", "--if-absent", "--json"], env, "one")).stdout).toContain('"written":true');
    const r = await cli(["kv", "set", "first", "--ttl", "1m", "--if-absent"], env, "two");
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("hush: error: key exists: first (not written: --if-absent)");
    expect((await cli(["kv", "get", "first"])).stdout).toBe("one\n");
  });

  test("ttl prints the ms left (exit 3 when missing); a default TTL applies; reads slide it; --ttl 0 is refused", async () => {
    const ttl = async (k: string) => JSON.parse((await cli(["kv", "ttl", k, "--json"])).stdout);
    const t0 = Date.now();
    await cli(["kv", "set", "d"], env, "v"); // no --ttl: the daemon's --default-ttl 60s
    const left = Number((await cli(["kv", "ttl", "d"])).stdout);
    const t1 = Date.now();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(60_000);
    const before = await ttl("d"); // `kv ttl` is not a read: it does not slide
    expect(before.expires_at).toBeGreaterThanOrEqual(t0 + 60_000);
    expect(before.expires_at).toBeLessThanOrEqual(t1 + 60_000);
    await Bun.sleep(50); // the clock moves on, so a slide shows
    const t2 = Date.now();
    expect((await cli(["kv", "get", "d"])).stdout).toBe("v\n"); // a read: --sliding-ttl pushes it to now + 60s
    const after = await ttl("d");
    expect(after.expires_at).toBeGreaterThanOrEqual(t2 + 60_000);
    expect(after.expires_at).toBeGreaterThan(before.expires_at);
    const missing = await cli(["kv", "ttl", "nope"]);
    expect(missing.code).toBe(3);
    for (const zero of ["0", "0s"]) {
      const z = await cli(["kv", "set", "z", "--ttl", zero], env, "v");
      expect(z.code).toBe(2);
      expect(z.stderr).toContain('--ttl 0 is refused (it never means "no expiry")');
    }
    // --no-slide: a read leaves the expiry where it was.
    await cli(["kv", "set", "fixed", "--ttl", "60s", "--no-slide"], env, "v");
    const fixed = await ttl("fixed");
    await Bun.sleep(50);
    expect((await cli(["kv", "get", "fixed"])).stdout).toBe("v\n");
    expect((await ttl("fixed")).expires_at).toBe(fixed.expires_at);
  });

  test("--default-ttl with --no-ttl-required is refused at start; --no-ttl-required keys show ttl none", async () => {
    const bad = await hush(["run", "--default-ttl", "1m", "--no-ttl-required", "--", "true"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--default-ttl and --no-ttl-required contradict each other");
    const r = await hush(["run", "--no-ttl-required", "--", "sh", "-c", 'printf v | "$0" kv set k && "$0" kv ttl k', (await import("./_harness.ts")).HUSH]);
    expect(r.stdout).toBe("none\n");
  });
});

describe("locks", () => {
  test("acquire --wait gets the lock when the holder's runs out; without --wait exit 4 with a hint", async () => {
    // Held for 60 s while it must be refused; then renewed to 1 s, which the waiter outlasts.
    const first = Number((await cli(["lock", "acquire", "L", "--ttl", "60s"])).stdout);
    const now = await cli(["lock", "acquire", "L", "--ttl", "60s"], other);
    expect(now.code).toBe(4);
    expect(now.stderr).toContain("hush: hint: pass --wait DURATION");
    expect((await cli(["lock", "renew", "L", "--token", String(first), "--ttl", "1s"])).code).toBe(0);
    const t = Date.now();
    const waited = await cli(["lock", "acquire", "L", "--ttl", "60s", "--wait", "30s", "--json"], other);
    expect(waited.code).toBe(0);
    expect(Date.now() - t).toBeLessThan(30_000);
    const j = JSON.parse(waited.stdout);
    expect(j.token).toBeGreaterThan(first);
    const short = await cli(["lock", "acquire", "L", "--ttl", "10s", "--wait", "300ms"]);
    expect(short.code).toBe(4);
    expect(short.stderr).toMatch(/lock L is held, until \S+ \(waited 300 ms\)/);
    // release is idempotent: the second one exits 0 and says nothing was held
    expect((await cli(["lock", "release", "L", "--token", String(j.token)], other)).code).toBe(0);
    const again = await cli(["lock", "release", "L", "--token", String(j.token), "--json"], other);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ released: false });
    expect((await cli(["lock", "release", "L", "--token", String(j.token)], other)).stderr).toContain("nothing to release");
  }, 60_000);

  test("the wire: a lock conflict carries the holder's expires_at in the error body", async () => {
    const held = JSON.parse((await cli(["lock", "acquire", "wire", "--ttl", "30s", "--json"])).stdout);
    const cred = decodeCredential(other.HUSH_CREDENTIAL);
    const body = JSON.stringify({ ttl_ms: 1000 });
    const s = signRequest(cred.macKey, cred.keyId, { method: "POST", target: "/v1/locks/wire", body });
    const r = await rawRequest(d.socket, "POST", "/v1/locks/wire", { headers: { authorization: s.authorization, "content-type": "application/json" }, body });
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({ error: "conflict", message: "lock is held", expires_at: held.expires_at });
  });
});

describe("pools", () => {
  test("lease --wait, renew, idempotent release, --one-per-holder", async () => {
    // Held for 60 s while it must be refused; then renewed to 1 s, which the waiter outlasts.
    const [slot, token] = (await cli(["pool", "lease", "P", "--size", "1", "--ttl", "60s"])).stdout.trim().split(" ");
    expect(slot).toBe("0");
    expect((await cli(["pool", "lease", "P", "--size", "1", "--ttl", "60s"], other)).code).toBe(4);
    expect((await cli(["pool", "renew", "P", "--token", token, "--ttl", "1s", "--json"])).stdout).toContain("expires_at");
    const waited = await cli(["pool", "lease", "P", "--size", "1", "--ttl", "60s", "--wait", "30s"], other);
    expect(waited.stdout).toMatch(/^0 \d+\n$/);
    expect((await cli(["pool", "renew", "P", "--token", token])).code).toBe(3);
    expect(JSON.parse((await cli(["pool", "release", "P", "--token", token, "--json"])).stdout)).toEqual({ released: false });
    const mine = waited.stdout.trim().split(" ")[1];
    expect(JSON.parse((await cli(["pool", "release", "P", "--token", mine, "--json"], other)).stdout)).toEqual({ released: true });

    expect((await cli(["pool", "lease", "Q", "--size", "4", "--ttl", "30s", "--holder", "w1", "--one-per-holder"])).stdout).toMatch(/^0 /);
    const dup = await cli(["pool", "lease", "Q", "--size", "4", "--ttl", "30s", "--holder", "w1"], other);
    expect(dup.code).toBe(4);
    expect(dup.stderr).toContain("another key holds a slot under this holder name");
    const noHolder = await cli(["pool", "lease", "Q", "--size", "4", "--ttl", "30s"], other);
    expect(noHolder.code).toBe(2);
    expect(noHolder.stderr).toContain("holder is required in a one-per-holder pool");
  }, 60_000);
});
