/**
 * Compressed request bodies through the compiled binary, over HTTP and as
 * WebSocket frames (PROTOCOL.md §1, "Compressed bodies"): gzip and zstd
 * bodies are inflated after authentication; a body that inflates past 10×
 * its size (`ratio_cap`) or past the body cap (`decompress_cap`) is refused
 * `too_large` with nothing stored, counted in `hush_rejected_total`; the
 * value limit applies to the inflated value; unknown encodings and corrupt
 * data are `invalid_request`; a compression bomb (1 KB → 1 MB) sent many
 * times at once leaves the daemon answering as before.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { signRequest } from "../../src/auth/index.ts";
import { decodeCredential } from "../../src/keys/index.ts";
import { Client } from "../../src/client/index.ts";
import { closeRaw, rawSend, TRANSPORTS, type TransportName } from "../_transport.ts";
import { rawRequest, startDaemon, type Daemon } from "./_harness.ts";

let d: Daemon;
let key: ReturnType<typeof decodeCredential>;
let sdk: Client;

beforeAll(async () => {
  d = await startDaemon();
  const cred = await d.issue("zip");
  key = decodeCredential(cred);
  sdk = new Client({ socket: d.socket, credential: cred, autoRekey: false });
});
afterAll(() => {
  closeRaw();
  sdk.close();
  d.cleanup();
});

/** A signed PUT of `body` (the bytes as sent: the signature covers the compressed body). */
function put(kind: TransportName, k: string, body: Uint8Array, encoding?: string, sign = true) {
  const target = `/v1/kv/${k}`;
  const s = signRequest(key.macKey, key.keyId, { method: "PUT", target, body });
  const headers: Record<string, string> = { "content-type": "application/json", ...(encoding ? { "content-encoding": encoding } : {}) };
  return rawSend(kind, d.socket, "PUT", target, { authorization: sign ? s.authorization : "HUSH-HMAC-SHA256 bogus", body, headers });
}

const json = (value: string) => new TextEncoder().encode(JSON.stringify({ value, ttl_ms: 60_000 }));
/** Text that compresses about 2× (hex digits): far from the ratio cap. */
const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes / 2))).toString("hex");

async function rejected(): Promise<Record<string, number>> {
  const text = (await rawRequest(d.admin, "GET", "/metrics")).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hush_rejected_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

describe.each(TRANSPORTS)("compressed bodies over %s", (kind) => {
  test("gzip and zstd bodies are inflated and stored as the value", async () => {
    const v = hex(40_000);
    for (const [enc, z] of [["gzip", gzipSync], ["zstd", zstdCompressSync]] as const) {
      const body = z(json(v));
      expect(body.length).toBeLessThan(json(v).length);
      const r = await put(kind, `ok-${enc}`, body, enc);
      expect({ status: r.status, text: r.text }).toMatchObject({ status: 200 });
      expect(await sdk.get(`ok-${enc}`)).toBe(v);
    }
  });

  test("a 1 KB bomb (inflating to 1 MB) is refused by the ratio cap; nothing is stored; counted", async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"ttl_ms":60000,"value":"'), Buffer.alloc(1 << 20, 0x61), Buffer.from('"}')]), { level: 9 });
    expect(bomb.length).toBeLessThan(1200);
    const before = await rejected();
    const r = await put(kind, "bomb", bomb, "gzip");
    expect({ status: r.status, error: r.json?.error }).toEqual({ status: 413, error: "too_large" });
    expect(r.json.message).toContain("10×");
    await expect(sdk.get("bomb")).rejects.toMatchObject({ code: "not_found" });
    expect((await rejected()).ratio_cap).toBe((before.ratio_cap ?? 0) + 1);
  });

  test("a body that inflates past the body cap is refused by the absolute cap", async () => {
    // 150 KB that does not compress, then 10 MB of zeros: about 160 KB sent (under 10× of 1 MiB), 10 MB inside.
    const body = Buffer.concat([gzipSync(crypto.getRandomValues(new Uint8Array(150_000))), gzipSync(Buffer.alloc(10 << 20), { level: 9 })]);
    const before = await rejected();
    const r = await put(kind, "big", body, "gzip");
    expect({ status: r.status, error: r.json?.error }).toEqual({ status: 413, error: "too_large" });
    expect((await rejected()).decompress_cap).toBe((before.decompress_cap ?? 0) + 1);
  });

  test("the value limit applies to the inflated value", async () => {
    const v = hex(300 * 1024); // over 256 KiB inflated, about 150 KiB compressed
    const body = gzipSync(json(v));
    expect(body.length).toBeLessThan(256 * 1024);
    const r = await put(kind, "wide", body, "gzip");
    expect({ status: r.status, error: r.json?.error }).toEqual({ status: 413, error: "too_large" });
    await expect(sdk.get("wide")).rejects.toMatchObject({ code: "not_found" });
  });

  test("unknown encodings and corrupt data are invalid_request; an unsigned bomb is never inflated", async () => {
    const before = await rejected();
    const br = await put(kind, "br", json("x"), "br");
    expect({ status: br.status, error: br.json?.error }).toEqual({ status: 400, error: "invalid_request" });
    const list = await put(kind, "two", gzipSync(gzipSync(json("x"))), "gzip, gzip");
    expect(list.status).toBe(400);
    const corrupt = await put(kind, "bad", gzipSync(json(hex(2000))).subarray(0, 100), "gzip");
    expect({ status: corrupt.status, error: corrupt.json?.error }).toEqual({ status: 400, error: "invalid_request" });
    const bomb = gzipSync(Buffer.alloc(1 << 20, 0x61), { level: 9 });
    const unsigned = await put(kind, "bomb", bomb, "gzip", false);
    expect(unsigned.status).toBe(401);
    const after = await rejected();
    expect({ encoding: after.encoding - (before.encoding ?? 0), corrupt: after.decompress_error - (before.decompress_error ?? 0), ratio: (after.ratio_cap ?? 0) - (before.ratio_cap ?? 0) }).toEqual({ encoding: 2, corrupt: 1, ratio: 0 });
    for (const k of ["br", "two", "bad"]) await expect(sdk.get(k)).rejects.toMatchObject({ code: "not_found" });
  });
});

test("200 bombs at once: all refused, and the daemon goes on answering", async () => {
  const bomb = gzipSync(Buffer.alloc(1 << 20, 0x61), { level: 9 });
  const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => put(i % 2 ? "ws" : "http", `many-${i}`, bomb, "gzip")));
  expect(new Set(answers.map((a) => a.status))).toEqual(new Set([413]));
  expect((await rawRequest(d.socket, "GET", "/v1/health")).status).toBe(200);
  await sdk.set("after", "fine", { ttlMs: 60_000 });
  expect(await sdk.get("after")).toBe("fine");
  expect((await sdk.status()).items.used).toBe(3); // ok-gzip, ok-zstd and after: no bomb was stored
}, 30_000);

test("--max-inflate-ratio takes 1 to 10 only", async () => {
  const r = await d.cli(["serve", "--socket", `${d.dir}/other/hush.sock`, "--max-inflate-ratio", "11"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("hush: error: --max-inflate-ratio: at most 10, got 11");
});
