/**
 * Limits on what clients can make the daemon hold (SECURITY.md "Limits"),
 * through the compiled binary with small flag values: credential leases
 * per worker and per credential (shared ones count), worker keys (issued
 * and joined), join tokens, credentials, listing pages (the protocol, the
 * SDK and `hush kv list`), and each key's share of the replay cache. Each
 * refusal has its stable code and is counted in
 * `hush_limit_refusals_total{limit}`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readFileSync, rmSync } from "node:fs";
import { rawRequest, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { AdminClient, Client, joinWithToken, createUnixTransport } from "../../src/client/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";

let d: Daemon;
let admin: AdminClient;
const auditDir = tempDir("hush-limits-audit-");
const auditFile = join(auditDir, "audit.jsonl");
const open: { close(): void }[] = [];

beforeAll(async () => {
  d = await startDaemon([
    "--max-leases-per-worker", "3", "--max-workers", "6", "--max-tokens", "2", "--max-creds", "3",
    "--max-list", "10", "--replay-cache", "3000", "--replay-cache-per-key", "400", "--key-rate", "0",
    "--audit-file", auditFile,
  ]);
  admin = new AdminClient({ socket: d.socket });
  open.push(admin);
});
afterAll(async () => {
  for (const c of open) c.close();
  await d.stop();
  d.cleanup();
  rmSync(auditDir, { recursive: true, force: true });
});

async function worker(name: string): Promise<{ c: Client; credential: string }> {
  const r = await admin.call("POST", "/v1/admin/workers", { name, tags: ["ci"] });
  const c = new Client({ socket: d.socket, credential: r.credential, autoRekey: false, retries: 0 });
  open.push(c);
  return { c, credential: r.credential };
}
const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.code as string);
async function metricOf(daemon: Daemon, name: string, labels = ""): Promise<number> {
  const m = new RegExp(`^${name}${labels.replace(/[{}]/g, "\\$&")} (\\d+)$`, "m").exec((await rawRequest(daemon.admin, "GET", "/metrics")).text);
  return m ? Number(m[1]) : 0;
}
const metric = (name: string, labels = "") => metricOf(d, name, labels);

describe("credential leases", () => {
  test("shared checkouts: per worker → max_items, no cap per credential; a return frees a place; gauge and counters", async () => {
    await admin.call("POST", "/v1/admin/creds", { name: "api", values: ["token-v"], allow: ["ci"], mode: "shared" });
    const a = await worker("lease-a");
    for (let i = 0; i < 3; i++) await a.c.checkout("api");
    expect(await codeOf(a.c.checkout("api"))).toBe("max_items");
    const b = await worker("lease-b");
    await b.c.checkout("api");
    const co = await b.c.checkout("api");
    await b.c.checkout("api");
    expect(await codeOf(b.c.checkout("api"))).toBe("max_items");
    await co.return();
    await b.c.checkout("api"); // a returned lease frees its place at once
    // Six live leases of one shared credential: no per-credential cap turns a worker away.
    expect((await admin.call("GET", "/v1/admin/creds")).creds[0].in_use).toBe(6);
    expect(await metric("hush_cred_leases")).toBe(6);
    expect(await metric("hush_limit_refusals_total", `{limit="leases_per_worker"}`)).toBe(2);
  });
});

describe("credentials, tokens and workers", () => {
  test("credentials: a 4th name is max_items (a replacement is not); tokens: a 3rd usable one is refused", async () => {
    await admin.call("POST", "/v1/admin/creds", { name: "b", values: ["1"] });
    await admin.call("POST", "/v1/admin/creds", { name: "c", values: ["1"] });
    await admin.call("POST", "/v1/admin/creds", { name: "c", values: ["2"] });
    const r = await d.cli(["creds", "put", "d", "--allow", "ci"], { stdin: "v\n" });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("hush: error: at most 3 credentials");
    const t1 = await d.cli(["token", "create", "--json"]);
    expect(t1.code).toBe(0);
    expect((await d.cli(["token", "create"])).code).toBe(0);
    const t3 = await d.cli(["token", "create"]);
    expect(t3.code).toBe(4);
    expect(t3.stderr).toContain("at most 2 usable join tokens");
    expect((await d.cli(["token", "revoke", JSON.parse(t1.stdout).id])).code).toBe(0);
    expect((await d.cli(["token", "create"])).code).toBe(0);
    expect(await metric("hush_limit_refusals_total", `{limit="creds"}`)).toBe(1);
    expect(await metric("hush_limit_refusals_total", `{limit="tokens"}`)).toBe(1);
  });

  test("live worker keys: issue and join are refused past --max-workers; revoking one frees a place", async () => {
    const have = (await admin.call("GET", "/v1/admin/workers")).workers.filter((w: any) => w.status === "active").length;
    const made: string[] = [];
    for (let i = have; i < 6; i++) made.push((await admin.call("POST", "/v1/admin/workers", { name: `fill-${i}` })).id);
    const r = await d.cli(["workers", "issue", "--name", "one-too-many"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("at most 6 live worker keys");
    await admin.call("POST", `/v1/admin/tokens/${(await admin.call("GET", "/v1/admin/tokens")).tokens.find((t: any) => t.status === "active").id}/revoke`);
    const tok = (await admin.call("POST", "/v1/admin/tokens", { uses: 2 })).token;
    const t = createUnixTransport(d.socket, { retries: 0 });
    open.push(t);
    expect(await codeOf(joinWithToken(t, tok, "joiner"))).toBe("max_items");
    expect((await admin.call("GET", "/v1/admin/tokens")).tokens.find((x: any) => x.status === "active" && x.uses_left === 2)).toBeDefined(); // no use spent
    // A join refused for room is audited and counted like the other refused joins.
    const events = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.type === "event" && e.action === "join");
    expect(events.at(-1)).toMatchObject({ actor: "unix", via: "join", result: "denied", reason: "max_items" });
    expect(await metric("hush_joins_total", `{result="max_items"}`)).toBe(1);
    await admin.call("POST", `/v1/admin/workers/${made[0]}/revoke`);
    expect((await joinWithToken(t, tok, "joiner")).id).toStartWith("w_");
    expect(await metric("hush_limit_refusals_total", `{limit="workers"}`)).toBe(2);
    for (const id of made.slice(1)) await admin.call("POST", `/v1/admin/workers/${id}/revoke`);
  });
});

describe("listing pages", () => {
  const keys = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(2, "0")}`);
  let w: { c: Client; credential: string };
  beforeAll(async () => {
    w = await worker("lister");
    for (const k of keys) await w.c.set(k, 1, { ttlMs: 600_000 });
  });

  test("protocol: limit and cursor; the daemon cuts limit to --max-list; bad values are invalid_request", async () => {
    const k = decodeCredential(w.credential);
    const get = async (target: string) => {
      const s = signRequest(k.macKey, k.keyId, { method: "GET", target });
      return (await rawRequest(d.socket, "GET", target, { headers: { authorization: s.authorization } })).json;
    };
    const p1 = await get("/v1/kv?prefix=page%2F&limit=4");
    expect(p1).toEqual({ keys: keys.slice(0, 4), next_cursor: expect.any(String) });
    const p2 = await get(`/v1/kv?prefix=page%2F&limit=1000&cursor=${encodeURIComponent(p1.next_cursor)}`);
    expect(p2.keys).toEqual(keys.slice(4, 14));
    const p3 = await get(`/v1/kv?prefix=page%2F&cursor=${encodeURIComponent(p2.next_cursor)}`);
    expect(p3.keys).toEqual(keys.slice(14, 24));
    expect(await get(`/v1/kv?prefix=page%2F&cursor=${encodeURIComponent(p3.next_cursor)}`)).toEqual({ keys: keys.slice(24), next_cursor: null });
    for (const q of ["limit=0", "limit=-1", "limit=x", "limit=1.5", "cursor=%21%21", "cursor="]) expect((await get(`/v1/kv?${q}`)).error).toBe("invalid_request");
  });

  test("SDK: list() follows every page; listPage() gives one", async () => {
    expect(await w.c.list("page/")).toEqual(keys);
    const p = await w.c.listPage("page/", { limit: 3 });
    expect(p.keys).toEqual(keys.slice(0, 3));
    expect((await w.c.listPage("page/", { cursor: p.nextCursor! })).keys).toEqual(keys.slice(3, 13));
  });

  test("CLI: all keys by default; --limit gives one page and the next cursor; --json carries it", async () => {
    const env = { HUSH_CREDENTIAL: w.credential };
    const all = await d.cli(["kv", "list", "page/"], { env });
    expect(all.stdout.trim().split("\n")).toEqual(keys);
    const one = await d.cli(["kv", "list", "page/", "--limit", "7"], { env });
    expect(one.stdout.trim().split("\n")).toEqual(keys.slice(0, 7));
    const cursor = /--cursor (\S+)/.exec(one.stderr)![1];
    expect(one.stderr).toContain("hush: hint: more keys: hush kv list 'page/' --cursor");
    const next = await d.cli(["kv", "list", "page/", "--cursor", cursor, "--json"], { env });
    expect(JSON.parse(next.stdout)).toEqual({ keys: keys.slice(7, 17), next_cursor: expect.any(String) });
    const bad = await d.cli(["kv", "list", "--cursor", "nonsense!"], { env });
    expect(bad.code).toBe(2);
  });
});

describe("listing budget", () => {
  test("--list-rate: a key that lists too much is rate_limited (signed, Retry-After); another key is not", async () => {
    const small = await startDaemon(["--list-rate", "10", "--max-list", "10"]);
    try {
      const sa = new AdminClient({ socket: small.socket });
      const mk = async (name: string) => new Client({ socket: small.socket, credential: (await sa.call("POST", "/v1/admin/workers", { name })).credential, autoRekey: false, retries: 0 });
      const a = await mk("a");
      const b = await mk("b");
      for (let i = 0; i < 25; i++) await a.set(`k${i}`, i, { ttlMs: 60_000 });
      await a.listPage("", {});
      await a.listPage("", {}); // 20 keys: the burst is spent
      const e: any = await a.listPage("", {}).catch((x) => x);
      expect(e.code).toBe("rate_limited");
      expect(Number(e.detail.retryAfter)).toBeGreaterThanOrEqual(1);
      const k = decodeCredential(a.credential);
      const s = signRequest(k.macKey, k.keyId, { method: "GET", target: "/v1/kv" });
      const raw = await rawRequest(small.socket, "GET", "/v1/kv", { headers: { authorization: s.authorization } });
      expect(raw.status).toBe(429);
      expect(Number(raw.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(raw.headers.get("hush-signature")).toBe(signResponse(k.macKey, s.signature, 429, raw.text));
      expect((await b.listPage("", {})).keys.length).toBe(10);
      // Listing everything waits out the budget (Retry-After) instead of failing.
      const all = await small.cli(["kv", "list"], { env: { HUSH_CREDENTIAL: b.credential } });
      expect(all.code).toBe(0);
      expect(all.stdout.trim().split("\n").length).toBe(25);
      expect(await metricOf(small, "hush_limit_refusals_total", `{limit="list_rate"}`)).toBeGreaterThanOrEqual(3);
      for (const c of [a, b, sa]) c.close();
    } finally {
      await small.stop();
      small.cleanup();
    }
  });
});

describe("replay cache share", () => {
  test("one key flooding past its share gets busy; another key is still served", async () => {
    const a = await worker("flood");
    const b = await worker("calm");
    let busyAt = -1;
    for (let i = 0; i < 450 && busyAt < 0; i++) if ((await codeOf(a.c.whoami())) === "busy") busyAt = i;
    expect(busyAt).toBeGreaterThanOrEqual(395);
    expect(busyAt).toBeLessThanOrEqual(400);
    expect((await b.c.whoami()).id).toStartWith("w_");
    expect(await metric("hush_limit_refusals_total", `{limit="replay_cache_per_key"}`)).toBeGreaterThanOrEqual(1);
  });
});
