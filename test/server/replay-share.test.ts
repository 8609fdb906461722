/**
 * Each key's share of the replay cache, through the real daemon: a key
 * that floods (here with no per-key rate limit) is answered `busy` once its
 * share is used up, and another key is still served. Before shares, the
 * flood filled the whole cache and every key got `busy`. (The compiled
 * binary, with --replay-cache-per-key: test/e2e/limits.test.ts.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { mintCredential } from "../../src/server/routes-admin.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;

beforeAll(async () => {
  dir = tempDir("hush-replay-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), keyRate: { rate: 0, burst: 0 }, nonceCacheMax: 600, nonceCachePerKey: 200 },
    { version: "t", log: new Logger({ write: () => {} }) },
  );
});
afterAll(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a flooding key is refused busy past its share; other keys are still served", async () => {
  const client = (name: string) => new Client({ socket: d.socketPath, credential: mintCredential(d.state, d.state.registry.create({ kind: "worker", name, via: "issue" })), retries: 0 });
  const flood = client("flood");
  const calm = client("calm");
  const codes = new Map<string, number>();
  for (let i = 0; i < 700; i++) {
    const c = await flood.whoami().then(() => "ok", (e) => e.code);
    codes.set(c, (codes.get(c) ?? 0) + 1);
  }
  expect(Object.fromEntries(codes)).toEqual({ ok: 200, busy: 500 });
  for (let i = 0; i < 50; i++) expect((await calm.whoami()).name).toBe("calm");
  expect(d.state.verifier.nonces.size).toBe(250);
  flood.close();
  calm.close();
});
