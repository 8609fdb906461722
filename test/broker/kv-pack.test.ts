/**
 * Values held compressed in the memory store (kv.ts, "Compression in
 * memory"): a large repetitive value is held zstd-compressed and `bytes`
 * counts what is held; reads give the very value back, as a copy that is
 * zero-filled after the caller's turn; the value limit applies to the value
 * itself; small values are held as they are; every buffer
 * that held the value is zero-filled on overwrite, delete and wipe.
 */
import { describe, expect, test } from "bun:test";
import { PACK_MIN_BYTES } from "../../src/broker/kv.ts";
import { expectCode, isZero, json, makeStore, text } from "./_helpers.ts";

/** Log-like lines: repetitive, with random ids. */
function logLines(bytes: number): string {
  let s = "";
  for (let i = 0; s.length < bytes; i++) s += `worker-${i % 16} INFO request ${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString("hex")} served in ${i % 97} ms\n`;
  return s;
}
const flush = () => new Promise<void>((r) => queueMicrotask(r));

describe("kv: values held compressed", () => {
  test("a 300 KB repetitive value is held compressed, counted as held, and read back intact", async () => {
    const { store } = makeStore({ maxValueBytes: 512 * 1024 });
    const value = logLines(300_000);
    const v = json(value);
    const raw = v.byteLength;
    store.set("logs", v, { ttlMs: 60_000 });
    expect(isZero(v)).toBe(true); // the uncompressed bytes given were wiped once packed
    const held = store.stats().bytes;
    expect(held).toBeLessThan(raw / 2);
    const got = store.get("logs").valueJson;
    expect(got.byteLength).toBe(raw);
    expect(JSON.parse(text(got))).toBe(value);
    await flush();
    expect(isZero(got)).toBe(true); // the inflated copy lives for the caller's turn only
    expect(JSON.parse(text(store.get("logs").valueJson))).toBe(value); // and reads again
    expect(store.stats().bytes).toBe(held);
    store.del("logs");
    expect(store.stats().bytes).toBe(0);
  });

  test("the value limit applies to the value, not to what is held", () => {
    const { store } = makeStore({ maxValueBytes: 64 * 1024 });
    const v = json("x".repeat(100_000)); // about 20 bytes compressed
    expectCode(() => store.set("big", v, { ttlMs: 60_000 }), "too_large");
    expect(isZero(v)).toBe(true);
    expect(store.stats()).toMatchObject({ kv: 0, bytes: 0 });
  });

  test("small values are held as they are (the very buffer); random base64 is held in about 3/4", () => {
    const { store } = makeStore();
    const small = json("y".repeat(PACK_MIN_BYTES - 10));
    store.set("small", small, { ttlMs: 60_000 });
    expect(store.get("small").valueJson).toBe(small);
    const value = Buffer.from(crypto.getRandomValues(new Uint8Array(6000))).toString("base64");
    const random = json(value);
    const len = random.byteLength;
    store.set("random", random, { ttlMs: 60_000 });
    expect(JSON.parse(text(store.get("random").valueJson))).toBe(value);
    const held = store.stats().bytes! - small.byteLength;
    expect(held).toBeLessThan(len * 0.8);
    expect(held).toBeGreaterThan(len * 0.7);
  });

  test("overwrites, counters and wipe: held bytes stay exact and every held buffer is zero-filled", () => {
    const { store } = makeStore();
    store.set("k", json(logLines(20_000)), { ttlMs: 60_000 });
    const before = store.stats().bytes;
    expect(before).toBeLessThan(20_000);
    store.set("k", json("short"), { ttlMs: 60_000 });
    expect(store.stats().bytes).toBe(json("short").byteLength);
    store.set("k", json(logLines(20_000)), { ttlMs: 60_000 });
    expectCode(() => store.incr("k", 1), "invalid_request"); // not a counter, compressed or not
    store.set("n", json(5), { ttlMs: 60_000 });
    expect(store.incr("n", 2)).toEqual({ value: 7 });
    store.wipe();
    expect(store.stats()).toMatchObject({ kv: 0, bytes: 0 });
  });
});
