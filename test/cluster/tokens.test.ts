/**
 * Join tokens and the handshake replay cache shared by several `hush serve`
 * processes (the compiled binary) on one real Redis (docs/CLUSTER.md §10),
 * every daemon started with the same server key file: a token made through
 * daemon A joins through daemon B, and the worker then works through A;
 * use counts hold for the whole cluster (a one-use token joins once,
 * however the attempts are spread); a token revoked through one daemon is
 * refused by the other; a join message 1 accepted by one daemon is refused
 * as a replay by the other; no PSK or token reaches Redis in clear; a
 * revoked or used-up token stays refused whatever is written into its clear
 * fields in Redis, and a last use given back joins again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Client, createUnixTransport, joinWithToken } from "../../src/client/index.ts";
import { startHandshake } from "../../src/client/join.ts";
import { decodeJoinToken } from "../../src/keys/index.ts";
import { REDIS_MISSING, startTestRedis, type TestRedis } from "./_redis.ts";
import { clusterArgs, codeOf, secretForms, startPair, stopPair } from "./_cluster.ts";
import { startDaemon, tempDir, type Daemon } from "../e2e/_harness.ts";

if (REDIS_MISSING) console.warn(`shared join tokens e2e: skipped: ${REDIS_MISSING}`);

let redis: TestRedis;
let monitor: { stop(): Promise<string> } | undefined;
let a: Daemon;
let b: Daemon;
let daemonArgs: string[];
let dir: string;
const daemons: Daemon[] = [];
const secrets = new Set<string>();
const secretBytes: Uint8Array[] = [];

async function token(d: Daemon, uses: number | "unlimited" = 1): Promise<string> {
  const r = await d.cli(["token", "create", "--uses", String(uses)]);
  expect(r.code).toBe(0);
  const t = r.stdout.split("\n").find((l) => l.startsWith("HUSH-JOIN-1"))!;
  secrets.add(t);
  secretBytes.push(decodeJoinToken(t).psk);
  return t;
}

const joinThrough = (d: Daemon, t: string, name = "joined") => joinWithToken(createUnixTransport(d.socket, { retries: 0 }), t, name);

describe.skipIf(REDIS_MISSING !== null)("join tokens shared by two daemons (compiled binary)", () => {
  beforeAll(async () => {
    redis = await startTestRedis();
    dir = tempDir();
    const args = (daemonArgs = await clusterArgs(redis, dir, secrets));
    ({ a, b, monitor } = await startPair(redis, dir, args));
  });

  afterAll(async () => {
    for (const d of daemons) d.cleanup();
    await stopPair({ a, b, monitor }, redis);
  });

  test("a token made through A joins through B; the worker works through A; its uses count across both", async () => {
    const t = await token(a, 2);
    const first = await joinThrough(b, t, "via-b");
    secrets.add(first.credential);
    const w = new Client({ socket: a.socket, credential: first.credential, transport: "http", retries: 0, autoRekey: false });
    await w.set("joined/k", "v", { ttlMs: 60_000 });
    expect(await w.get("joined/k")).toBe("v");
    const second = await joinThrough(a, t, "via-a");
    secrets.add(second.credential);
    expect(await codeOf(joinThrough(b, t))).toBe("auth_failed");
    expect(await codeOf(joinThrough(a, t))).toBe("auth_failed");
    expect(b.log() + a.log()).toContain("exhausted_token");
  });

  test("a one-use token joins once in the whole cluster, however many attempts at once on both daemons", async () => {
    const t = await token(b, 1);
    const results = await Promise.all([a, b, a, b, a, b].map((d, i) => codeOf(joinThrough(d, t, `race-${i}`).then((r) => secrets.add(r.credential)))));
    expect(results.filter((r) => r === "ok").length).toBe(1);
    expect(results.filter((r) => r !== "ok").every((r) => r === "auth_failed")).toBe(true);
    // Both daemons list it used up, with its one use.
    const id = decodeJoinToken(t).tokenId;
    for (const d of [a, b]) {
      const r = await d.cli(["token", "list", "--all", "--json"]);
      expect(r.code).toBe(0);
      const listed = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((x: { id: string }) => x.id === id);
      expect(listed).toMatchObject({ status: "exhausted", uses: 1, uses_left: 0 });
    }
  });

  test("a token revoked through B is refused through A", async () => {
    const t = await token(a, "unlimited");
    const id = decodeJoinToken(t).tokenId;
    secrets.add((await joinThrough(a, t, "before-revoke")).credential);
    expect((await b.cli(["token", "revoke", id])).code).toBe(0);
    expect(await codeOf(joinThrough(a, t))).toBe("auth_failed");
    expect(a.log()).toContain("revoked_token");
  });

  test("an attacker who clears a revoked or used-up token's clear fields in Redis cannot join with it through a daemon that never cached it", async () => {
    // Revoked through A; the attacker sets `r` back to 0. B has never seen the token.
    const revoked = await token(a, "unlimited");
    const rid = decodeJoinToken(revoked).tokenId;
    expect((await a.cli(["token", "revoke", rid])).code).toBe(0);
    await redis.admin("HSET", `${redis.prefix}t:${rid}`, "r", "0");
    expect(await codeOf(joinThrough(b, revoked, "unrevoked"))).toBe("auth_failed");
    // Used up through A; the attacker gives it uses again. B has never seen it.
    const used = await token(a, 1);
    const uid = decodeJoinToken(used).tokenId;
    secrets.add((await joinThrough(a, used, "last-use")).credential);
    await redis.admin("HSET", `${redis.prefix}t:${uid}`, "u", "5", "x", "0");
    expect(await codeOf(joinThrough(b, used, "reused"))).toBe("auth_failed");
    // Neither record holds its sealed PSK any more.
    for (const id of [rid, uid]) expect((await redis.admin("HEXISTS", `${redis.prefix}t:${id}`, "s")).trim()).toBe("0");
  });

  test("a last use given back (the join could not be kept) joins again, through another daemon", async () => {
    // C has room for one worker: a join through C takes the token's last use, then finds no room and gives it back.
    const c = await startDaemon([...daemonArgs, "--max-workers", "1", "--audit-file", join(dir, "audit-c.log")]);
    daemons.push(c);
    secrets.add((await joinThrough(c, await token(a, 1), "fills-c")).credential);
    const t = await token(a, 1);
    expect(await codeOf(joinThrough(c, t, "no-room"))).toBe("max_items");
    expect((await redis.admin("HEXISTS", `${redis.prefix}t:${decodeJoinToken(t).tokenId}`, "s")).trim()).toBe("1");
    secrets.add((await joinThrough(b, t, "given-back")).credential);
    expect(await codeOf(joinThrough(a, t))).toBe("auth_failed");
  });

  test("a join message 1 accepted by A is refused by B as a replay", async () => {
    const t = await token(a, 3);
    const tok = decodeJoinToken(t);
    const hs = startHandshake(tok.serverPublic, tok.psk, `hush/1 join\n${tok.tokenId}`, { name: "replayed", ts: Date.now() });
    const body = JSON.stringify({ token_id: tok.tokenId, msg: hs.msg });
    const send = (d: Daemon) => fetch("http://localhost/v1/join", { method: "POST", headers: { "content-type": "application/json" }, body, unix: d.socket } as RequestInit);
    expect((await send(a)).status).toBe(200);
    const again = await send(b);
    expect(again.status).toBe(401);
    const metrics = await fetch("http://localhost/metrics", { headers: { "x-request-id": "m" }, unix: b.admin } as RequestInit).then((r) => r.text());
    expect(metrics).toContain('hush_auth_failures_total{reason="replayed_message"} 1');
    // The token still had uses: a fresh handshake through B joins.
    secrets.add((await joinThrough(b, t, "fresh")).credential);
  });

  test("no PSK, token or credential is in Redis or MONITOR's record", async () => {
    const dump = await redis.dump();
    const log = await monitor!.stop();
    monitor = undefined;
    expect(dump).toContain(`${redis.prefix}t:`);
    expect(log).toContain("EVALSHA");
    for (const f of secretForms(secrets, secretBytes)) for (const text of [dump, log]) expect(text.includes(f) ? f : "").toBe("");
  });
});
