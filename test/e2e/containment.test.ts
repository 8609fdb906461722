/**
 * Containment between workers of one daemon, through the compiled binary:
 * a lock or pool lease answers only to the key that took it; revoking a
 * worker (by the admin, or by clone detection) ends its credential leases,
 * locks and pool slots and audits it; names with invisible or format
 * characters are refused everywhere a name is taken.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rawRequest, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { AdminClient, Client } from "../../src/client/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";

let d: Daemon;
let auditFile: string;
let admin: AdminClient;
const clients: (Client | AdminClient)[] = [];

beforeAll(async () => {
  d = await startDaemon(["--audit-file", (auditFile = join(tempDir("hush-containment-"), "audit.jsonl"))]);
  admin = new AdminClient({ socket: d.socket });
  clients.push(admin);
});
afterAll(async () => {
  for (const c of clients) c.close();
  await d.stop();
  d.cleanup();
  try {
    require("node:fs").rmSync(auditFile, { force: true });
  } catch {}
});

async function worker(name: string, tags: string[] = ["ci"], opts: { autoRekey?: boolean } = {}): Promise<{ c: Client; id: string; credential: string }> {
  const r = await admin.call("POST", "/v1/admin/workers", { name, tags });
  const c = new Client({ socket: d.socket, credential: r.credential, autoRekey: opts.autoRekey ?? false, retries: 0 });
  clients.push(c);
  return { c, id: r.id, credential: r.credential };
}

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: any) => e.code as string);

describe("locks and pool leases belong to the key that took them", () => {
  test("another key cannot renew or release a lock, even with the right fencing token", async () => {
    const a = await worker("lock-a");
    const b = await worker("lock-b");
    const held = await a.c.lock("deploy", { ttlMs: 60_000 });
    // b learns a token from its own lock; a's is its neighbour (one shared counter).
    const own = await b.c.lock("other", { ttlMs: 60_000 });
    expect(own.token).toBe(held.token + 1);
    for (const token of [held.token, own.token - 1]) {
      expect(await codeOf(b.c.call("POST", "/v1/locks/deploy/release", { token }))).toBe("conflict");
      expect(await codeOf(b.c.call("POST", "/v1/locks/deploy/renew", { token, ttl_ms: 1000 }))).toBe("conflict");
    }
    // Still held by a, who can renew and release it.
    expect(await codeOf(b.c.lock("deploy", { ttlMs: 1000 }))).toBe("conflict");
    await held.renew(60_000);
    await held.release();
    await own.release();
  });

  test("another key cannot release a pool lease, nor reach it through the same holder name", async () => {
    const a = await worker("pool-a");
    const b = await worker("pool-b");
    const la = await a.c.lease("shards", { size: 2, ttlMs: 60_000, holder: "runner" });
    expect(await codeOf(b.c.call("POST", "/v1/pools/shards/release", { token: la.token }))).toBe("conflict");
    // The same holder string from another key is another lease: it gets neither a's slot nor a's token.
    const lb = await b.c.lease("shards", { size: 2, ttlMs: 60_000, holder: "runner" });
    expect(lb.slot).not.toBe(la.slot);
    expect(lb.token).not.toBe(la.token);
    await la.release();
    await lb.release();
  });
});

describe("revoking a worker ends what it holds", () => {
  test("workers revoke: its exclusive lease, lock and pool slot are freed at once, and audited", async () => {
    await admin.call("POST", "/v1/admin/creds", { name: "acct", values: ["only-one"], allow: ["ci"], mode: "exclusive" });
    await admin.call("POST", "/v1/admin/creds", { name: "api", values: ["shared-v"], allow: ["ci"], mode: "shared" });
    const a = await worker("revoked-a");
    const b = await worker("other-b");
    await a.c.checkout("acct");
    await a.c.checkout("api");
    await a.c.lock("build", { ttlMs: 3600_000 });
    await a.c.lease("db", { size: 1, ttlMs: 3600_000 });
    expect(await codeOf(b.c.checkout("acct"))).toBe("conflict");
    expect((await admin.call("GET", "/v1/admin/creds")).creds.find((x: any) => x.name === "api").in_use).toBe(1);

    const r = await d.cli(["workers", "revoke", a.id]);
    expect(r.code).toBe(0);

    const co = await b.c.checkout("acct");
    expect(co.value).toBe("only-one");
    await co.return();
    expect((await admin.call("GET", "/v1/admin/creds")).creds.find((x: any) => x.name === "api").in_use).toBe(0);
    const lock = await b.c.lock("build", { ttlMs: 1000 });
    await lock.release();
    const lease = await b.c.lease("db", { size: 1, ttlMs: 1000 });
    await lease.release();

    const events = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.type === "event");
    const ended = events.filter((e) => e.action === "revoke.release" && e.actor === a.id);
    expect(ended.map((e) => e.target).sort()).toEqual(["cred:acct", "cred:api", "lock:build", "pool:db"]);
    for (const e of ended) expect(e.reason).toBe("revoked");
  });

  test("clone detection locks the worker and frees what it held", async () => {
    await admin.call("POST", "/v1/admin/creds", { name: "acct2", values: ["solo"], allow: ["ci"], mode: "exclusive" });
    const a = await worker("cloned", ["ci"], { autoRekey: true });
    const b = await worker("bystander");
    await a.c.checkout("acct2");
    await a.c.lock("release-train", { ttlMs: 3600_000 });
    const copy = new Client({ socket: d.socket, credential: a.credential, autoRekey: true, retries: 0 });
    clients.push(copy);
    await a.c.rekey(); // the legitimate holder rotates; the copy still has the old key
    expect(await codeOf(copy.rekey())).toBe("auth_failed"); // clone suspected: the worker is locked
    expect(await codeOf(a.c.whoami())).toBe("auth_failed");
    expect((await b.c.checkout("acct2")).value).toBe("solo");
    (await b.c.lock("release-train", { ttlMs: 1000 })).release();
    const events = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(events.some((e) => e.action === "revoke.release" && e.actor === a.id && e.target === "lock:release-train" && e.reason === "clone_suspected")).toBe(true);
  });
});

test("a key that expires ends its holds at the next sweep", async () => {
  await admin.call("POST", "/v1/admin/creds", { name: "acct3", values: ["once"], allow: ["ci"], mode: "exclusive" });
  const r = await admin.call("POST", "/v1/admin/workers", { name: "short-lived", tags: ["ci"], ttl_ms: 1500 });
  const a = new Client({ socket: d.socket, credential: r.credential, autoRekey: false, retries: 0 });
  clients.push(a);
  const b = await worker("later");
  await a.checkout("acct3", { ttlMs: 3600_000 });
  await a.lock("nightly", { ttlMs: 3600_000 });
  expect(await codeOf(b.c.checkout("acct3"))).toBe("conflict");
  await Bun.sleep(2600); // the key expires at 1.5 s; the sweeper runs every second
  expect((await b.c.checkout("acct3")).value).toBe("once");
  await (await b.c.lock("nightly", { ttlMs: 1000 })).release();
  const events = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(events.filter((e) => e.action === "revoke.release" && e.actor === r.id && e.reason === "expired").map((e) => e.target).sort()).toEqual(["cred:acct3", "lock:nightly"]);
});

describe("names with invisible or format characters are refused", () => {
  // U+202E right-to-left override, U+200B zero width space, U+2066 isolate, U+FEFF BOM,
  // U+00AD soft hyphen, U+E0041 tag letter, U+2028 line separator, U+E000 private use,
  // U+FE0F variation selector, U+00A0 no-break space, U+3164 Hangul filler.
  const bad = ["ab\u202Ecod", "a\u200Bb", "a\u2066b", "\uFEFFab", "so\u00ADft", "t\u{E0041}g", "a\u2028b", "p\uE000u", "v\uFE0Fs", "a\u00A0b", "h\u3164f"];

  async function signed(cred: string, method: string, target: string, body?: unknown) {
    const k = decodeCredential(cred);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const s = signRequest(k.macKey, k.keyId, { method, target, body: text });
    const r = await rawRequest(d.socket, method, target, { headers: { authorization: s.authorization, "content-type": "application/json" }, body: text });
    return r.json?.error ?? "ok";
  }

  test("KV keys, prefixes, locks, pools, holders and credential names", async () => {
    const w = await worker("names");
    for (const n of bad) {
      const seg = encodeURIComponent(n);
      expect(await signed(w.credential, "PUT", `/v1/kv/${seg}`, { value: 1, ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/kv/${seg}/incr`, { ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "GET", `/v1/kv?prefix=${seg}`)).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/locks/${seg}`, { ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/locks/ok`, { ttl_ms: 1000, holder: n })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/pools/${seg}/lease`, { size: 1, ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/pools/ok/lease`, { size: 1, ttl_ms: 1000, holder: n })).toBe("invalid_request");
      expect(await codeOf(admin.call("POST", "/v1/admin/creds", { name: n, values: ["v"], allow: ["ci"] }))).toBe("invalid_request");
      expect(await codeOf(admin.call("POST", "/v1/admin/workers", { name: n }))).toBe("invalid_request");
      expect(await codeOf(admin.call("POST", "/v1/admin/tokens", { tags: [n] }))).toBe("invalid_request");
    }
    // Nothing was stored; ordinary Unicode names still work.
    expect(await w.c.list("")).toEqual([]);
    await w.c.set("café/ключ/鍵", 1, { ttlMs: 1000 });
    expect(await w.c.list("")).toEqual(["café/ключ/鍵"]);
    expect((await admin.call("GET", "/v1/admin/creds")).creds.every((c: any) => !/[^\x20-\x7e]/.test(c.name))).toBe(true);
  });

  test("blank, space-edged, invisible-symbol and non-NFC names are refused; NFC and inner spaces are fine", async () => {
    const w = await worker("names2");
    // A space at either end (a blank name too), U+2800 braille blank, U+1D159 null notehead, e + U+0301 (NFD).
    const names = ["db/password ", " db/password", "   ", "\u2800", "db\u2800pw", "\u{1D159}", "cafe\u0301"];
    for (const n of names) {
      const seg = encodeURIComponent(n);
      expect(await signed(w.credential, "PUT", `/v1/kv/${seg}`, { value: 1, ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/locks/${seg}`, { ttl_ms: 1000 })).toBe("invalid_request");
      expect(await signed(w.credential, "POST", `/v1/pools/${seg}/lease`, { size: 1, ttl_ms: 1000 })).toBe("invalid_request");
      expect(await codeOf(admin.call("POST", "/v1/admin/creds", { name: n, values: ["v"], allow: ["ci"] }))).toBe("invalid_request");
    }
    const cli = await d.cli(["creds", "put", "db/password ", "--allow", "ci"], { stdin: "v" });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("credential name must not begin or end with a space");
    expect((await w.c.list("")).filter((k) => names.includes(k))).toEqual([]);
    await w.c.set("caf\u00e9 au lait", 1, { ttlMs: 60_000 });
    expect(await w.c.list("caf\u00e9 ")).toEqual(["café au lait"]); // a prefix may end in a space
  });
});
