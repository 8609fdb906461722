/**
 * The SDK's compressed request bodies (src/client/compress.ts) against the
 * compiled daemon, over both transports: with `compress: "gzip"` (or zstd) a
 * body over the threshold goes compressed and the signature covers it as
 * sent; a 300 KB repetitive value round-trips whether it compresses below
 * the daemon's ratio cap (sent compressed) or far above it (sent as it is);
 * the compatibility client compresses above 1 KB as ephemeral-broker's does;
 * a hand-made bomb signed with the same key is still refused. That a body
 * went compressed shows on a daemon with `--max-inflate-ratio 1`, which
 * refuses every compressed body that inflates (`ratio_cap`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { Client } from "../../src/client/index.ts";
import { Client as EbClient } from "../../src/client/compat-eb.ts";
import { compressor } from "../../src/client/compress.ts";
import { rawRequest, startDaemon, type Daemon } from "./_harness.ts";

let d: Daemon;
let strict: Daemon;
let cred: string;
let strictCred: string;

beforeAll(async () => {
  [d, strict] = await Promise.all([startDaemon(["--max-value", "512k"]), startDaemon(["--max-value", "512k", "--max-inflate-ratio", "1"])]);
  [cred, strictCred] = await Promise.all([d.issue("zip"), strict.issue("zip")]);
});
afterAll(() => {
  d.cleanup();
  strict.cleanup();
});

async function rejected(daemon: Daemon): Promise<Record<string, number>> {
  const text = (await rawRequest(daemon.admin, "GET", "/metrics")).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hush_rejected_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** About 300 KB of log-like lines: repetitive, yet it compresses less than 10× (random ids). */
function logLines(bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex");
    const line = `2026-11-29T17:${String(i % 60).padStart(2, "0")}:00Z worker-${i % 16} INFO request ${id} served in ${i % 97} ms\n`;
    lines.push(line);
    n += line.length;
  }
  return lines.join("");
}

describe("compressor", () => {
  test("gzip at and above the threshold; as it is below it, when it does not shrink, and past the ratio cap", () => {
    const c = compressor("gzip")!;
    const text = JSON.stringify({ value: logLines(300_000) });
    const z = c.encode(text);
    expect(z.encoding).toBe("gzip");
    expect(gunzipSync(z.body as Uint8Array).toString("utf8")).toBe(text);
    expect(text.length / (z.body as Uint8Array).length).toBeLessThanOrEqual(10);
    expect(c.encode('{"value":"small"}')).toEqual({ body: '{"value":"small"}' });
    expect(compressor({ coding: "gzip", thresholdBytes: 0 })!.encode('{"v":1}')).toEqual({ body: '{"v":1}' }); // gzip's header alone is longer
    const runs = JSON.stringify({ value: "x".repeat(300_000) });
    expect(c.encode(runs)).toEqual({ body: runs }); // about 1000×: the daemon would refuse it compressed
    expect(compressor({ coding: "gzip", maxRatio: 1 })!.encode(text)).toEqual({ body: text });
  });

  test("bad options are refused when the client is made, not at the first call", () => {
    expect(() => compressor("br" as any)).toThrow(/gzip", "zstd" or false/);
    expect(() => compressor({ coding: "gzip", maxRatio: 11 })).toThrow(/1 to 10/);
    expect(() => compressor({ coding: "gzip", thresholdBytes: -1 })).toThrow(/non-negative/);
    expect(() => new Client({ socket: d.socket, credential: cred, compress: { coding: "gzip", maxRatio: 0 } })).toThrow(/1 to 10/);
    expect(compressor(false)).toBeUndefined();
    expect(compressor(undefined)).toBeUndefined();
  });
});

describe.each(["ws", "http"] as const)("the SDK with compress over %s", (transport) => {
  const sdk = (daemon: Daemon, credential: string, compress: any) => new Client({ socket: daemon.socket, credential, transport, autoRekey: false, compress });

  test("a 300 KB repetitive value round-trips, sent compressed (gzip and zstd)", async () => {
    for (const coding of ["gzip", "zstd"] as const) {
      const c = sdk(d, cred, coding);
      const v = logLines(300_000);
      await c.set(`logs-${coding}`, v, { ttlMs: 60_000 });
      expect(await c.get(`logs-${coding}`)).toBe(v);
      c.close();
      // The same write to a daemon that takes no compressed body that inflates: it went compressed.
      const s = sdk(strict, strictCred, coding);
      const before = await rejected(strict);
      await expect(s.set(`logs-${coding}`, v, { ttlMs: 60_000 })).rejects.toMatchObject({ code: "too_large" });
      expect((await rejected(strict)).ratio_cap).toBe((before.ratio_cap ?? 0) + 1);
      s.close();
    }
  });

  test("a value that compresses past the ratio cap (300 KB of one letter) is sent as it is, and round-trips", async () => {
    const c = sdk(d, cred, "gzip");
    const before = await rejected(d);
    await c.set("runs", "x".repeat(300_000), { ttlMs: 60_000 });
    expect(await c.get("runs")).toBe("x".repeat(300_000));
    expect((await rejected(d)).ratio_cap ?? 0).toBe(before.ratio_cap ?? 0);
    c.close();
  });

  test("with maxRatio 1 (the daemon's --max-inflate-ratio 1) the SDK sends bodies as they are, and they are taken", async () => {
    const s = sdk(strict, strictCred, { coding: "gzip", maxRatio: 1 });
    const v = logLines(300_000);
    await s.set("plain", v, { ttlMs: 60_000 });
    expect(await s.get("plain")).toBe(v);
    s.close();
  });
});

test("the compatibility client gzips above 1 KB, as ephemeral-broker's does (and not with compression: false)", async () => {
  const v = logLines(300_000);
  const eb = new EbClient(d.socket, { credential: cred });
  await eb.set("eb-logs", v, 60_000);
  expect(await eb.get("eb-logs")).toBe(v);
  const onStrict = (o: object) => new EbClient(strict.socket, { credential: strictCred, ...o });
  const before = await rejected(strict);
  await expect(onStrict({}).set("eb-logs", v, 60_000)).rejects.toMatchObject({ code: "too_large" });
  expect((await rejected(strict)).ratio_cap).toBe((before.ratio_cap ?? 0) + 1);
  await onStrict({ compression: false }).set("eb-logs", v, 60_000);
  await onStrict({ compressionThreshold: 1_000_000 }).set("eb-logs", v, 60_000);
  expect(await onStrict({}).get("eb-logs")).toBe(v);
});

test("a bomb signed with an SDK client's key is still refused, nothing stored, and the daemon answers on", async () => {
  const key = decodeCredential(cred);
  const body = gzipSync(Buffer.concat([Buffer.from('{"ttl_ms":60000,"value":"'), Buffer.alloc(1 << 20, 0x61), Buffer.from('"}')]), { level: 9 });
  const target = "/v1/kv/bomb";
  const s = signRequest(key.macKey, key.keyId, { method: "PUT", target, body });
  const before = await rejected(d);
  const r = await rawRequest(d.socket, "PUT", target, { body, headers: { authorization: s.authorization, "content-type": "application/json", "content-encoding": "gzip" } });
  expect(r.status).toBe(413);
  expect((await rejected(d)).ratio_cap).toBe((before.ratio_cap ?? 0) + 1);
  const c = new Client({ socket: d.socket, credential: cred, autoRekey: false, compress: "gzip" });
  await expect(c.get("bomb")).rejects.toMatchObject({ code: "not_found" });
  await c.set("after", logLines(5000), { ttlMs: 60_000 });
  expect(((await c.get("after")) as string).length).toBeGreaterThan(5000);
  c.close();
});

test("the daemon holds a large repetitive value compressed: status counts the bytes held, a get returns it whole", async () => {
  const c = new Client({ socket: d.socket, credential: cred, autoRekey: false });
  const v = logLines(300_000);
  const before = (await c.status()).bytes.used!;
  await c.set("held", v, { ttlMs: 60_000 });
  const held = (await c.status()).bytes.used! - before;
  expect(held).toBeGreaterThan(0);
  expect(held).toBeLessThan(v.length / 2);
  expect(await c.get("held")).toBe(v);
  await c.del("held");
  expect((await c.status()).bytes.used).toBe(before);
  c.close();
});
