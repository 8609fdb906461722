/**
 * Unauthenticated failures (src/server/failures.ts): accounted per source
 * whatever the key ids, bounded records per window (immediate, summary,
 * overflow), and a per-source limit that refuses only requests that have
 * already failed — driven through the pipeline with neutral requests, and
 * the record size checked through a real AuditWriter.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FailureLedger, type Failure } from "../../src/server/failures.ts";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { answer, createPipeline, type NeutralRequest } from "../../src/server/pipeline.ts";
import type { AuditEvent } from "../../src/server/state.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { randomBytes, toB64u } from "../../src/crypto/index.ts";
import { AuditWriter, verifyAuditLog } from "../../src/audit/index.ts";
import { tempDir } from "../_tmp.ts";

const CONFIG = { intervalMs: 60_000, maxRecords: 16, maxTracked: 4096, rate: 10, burst: 20 };
const randomKeyId = () => "w_" + toB64u(randomBytes(12));

describe("FailureLedger", () => {
  test("random key ids from many sources: at most 2 × maxRecords + 3 records per window, and every failure is counted", () => {
    let t = 1_000_000;
    const l = new FailureLedger(CONFIG, () => t);
    const written: AuditEvent[] = [];
    const reasons = ["unknown_key", "malformed", "stale_timestamp"];
    let n = 0;
    for (let i = 0; i < 20_000; i++, n++) {
      // 300 IPv4 sources, one IPv6 /64 with a fresh address each time, and the unix socket.
      const peer = i % 3 === 0 ? `198.51.${(i >> 8) & 1}.${i % 150}` : i % 3 === 1 ? `2001:db8:0:7:${(i & 0xffff).toString(16)}::1` : "unix";
      const r = l.note({ action: i % 7 ? "auth" : "join", reason: reasons[i % 3], peer, corrId: `c${i}`, keyId: randomKeyId() });
      if (r) written.push(r.event);
    }
    t += CONFIG.intervalMs;
    const summaries = l.flush().map((r) => r.event);
    expect(written.length).toBe(16);
    expect(summaries.length).toBeLessThanOrEqual(16 + 3);
    expect(written.length + summaries.length).toBeLessThanOrEqual(2 * 16 + 3);
    // Conserved: the summaries (and the single failures written at once) add up to every failure.
    const singles = written.filter((w) => !summaries.some((s) => s.source === w.source && s.action === w.action && s.reason === w.reason)).length;
    expect(summaries.reduce((a, s) => a + s.failures!, 0) + singles).toBe(n);
    // Most failures first; the one /64 is one source; the rest folds into one overflow record per action.
    const perSource = summaries.filter((s) => s.source !== "*");
    expect(perSource.map((s) => s.failures)).toEqual([...perSource.map((s) => s.failures!)].sort((a, b) => b - a));
    expect(perSource.some((s) => s.source === "2001:db8:0:7::/64")).toBe(true);
    expect(perSource.some((s) => s.source === "unix")).toBe(true);
    const overflow = summaries.filter((s) => s.source === "*");
    expect(overflow.map((s) => s.action).sort()).toEqual(["auth", "join"]);
    expect(overflow.every((s) => s.sources! > 0 && s.since === 1_000_000)).toBe(true);
    // The window is over: nothing more until new failures come.
    expect(l.flush(true)).toEqual([]);
  });

  test("past maxTracked triples, failures go straight to the overflow and are counted there", () => {
    let t = 0;
    const l = new FailureLedger({ ...CONFIG, maxTracked: 10 }, () => t);
    for (let i = 0; i < 50; i++) l.note({ action: "auth", reason: "unknown_key", peer: `203.0.113.${i}`, corrId: "c" });
    t += CONFIG.intervalMs;
    const out = l.flush().map((r) => r.event);
    expect(out.find((e) => e.source === "*")).toMatchObject({ action: "auth", failures: 40, sources: 40 });
    expect(l.overflowed.get("auth")).toBe(40);
  });

  test("a window ends only after intervalMs, or at stop", () => {
    let t = 0;
    const l = new FailureLedger(CONFIG, () => t);
    const f: Failure = { action: "auth", reason: "bad_signature", peer: "192.0.2.1", corrId: "first", keyId: "w_AAAAAAAAAAAAAAAA" };
    expect(l.note(f)?.event).toMatchObject({ actor: "w_AAAAAAAAAAAAAAAA", source: "192.0.2.1", reason: "bad_signature", corr_id: "first" });
    expect(l.note({ ...f, corrId: "second", limited: true })).toBeNull();
    t += CONFIG.intervalMs - 1;
    expect(l.flush()).toEqual([]);
    expect(l.flush(true).map((r) => r.event)).toEqual([
      { actor: "192.0.2.1", source: "192.0.2.1", via: "worker", action: "auth", result: "denied", reason: "bad_signature", corr_id: "first", failures: 2, limited: 1, since: 0 },
    ]);
  });

  test("the limit is per source: an IPv6 /64 is one source, another address has its own budget", () => {
    const l = new FailureLedger({ ...CONFIG, rate: 1, burst: 3 });
    const waits = Array.from({ length: 5 }, (_, i) => l.take(`2001:db8:1:2::${i + 1}`));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThanOrEqual(1);
    expect(l.take("2001:db8:1:3::1")).toBe(0);
    expect(l.take("::ffff:192.0.2.9")).toBe(0);
  });

  test("the largest record fits in 512 bytes (SECURITY.md's bound), through the real writer", () => {
    const dir = tempDir("hush-failures-");
    try {
      const path = join(dir, "audit.log");
      const w = AuditWriter.open({ path, now: () => 9_999_999_999_999 });
      const big = 2 ** 53 - 1;
      const corr = "x".repeat(64);
      const source = "f".repeat(64);
      // The longest reasons and route labels of each kind.
      w.record({ actor: "w_" + "A".repeat(16), via: "worker", action: "rekey", target: "w_" + "A".repeat(16), result: "denied", reason: "retired_server_key", corr_id: corr, source });
      w.record({ actor: "w_" + "A".repeat(16), via: "worker", action: "auth", target: "admin_server-key", result: "denied", reason: "nonce_cache_full", corr_id: corr, source });
      w.record({ actor: source, source, via: "worker", action: "rekey", result: "denied", reason: "retired_server_key", corr_id: corr, failures: big, limited: big, since: 9_999_999_999_999 });
      w.record({ actor: "*", source: "*", via: "worker", action: "rekey", result: "denied", failures: big, limited: big, sources: big, since: 9_999_999_999_999 });
      w.close();
      const text = readFileSync(path);
      expect(verifyAuditLog(text).ok).toBe(true);
      const lines = text.toString().trimEnd().split("\n").slice(1, -1);
      expect(lines.length).toBe(4);
      for (const line of lines) expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(512);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("hush audit tail shows a summary's count, source and window, and an immediate failure's source", async () => {
  const { formatAuditRow } = await import("../../src/audit/index.ts");
  const base = { seq: 9, ts: 1_795_958_320_850, type: "event", prev: "p", via: "worker", action: "auth", result: "denied", reason: "unknown_key" };
  expect(formatAuditRow({ ...base, actor: "203.0.113.7", source: "203.0.113.7", corr_id: "c1", failures: 20000, limited: 19980, since: 1_795_958_320_507 })).toContain(
    "unknown_key; 20000 failures from 203.0.113.7 since 2026-11-29T13:18:40Z (19980 rate limited); first corr c1",
  );
  expect(formatAuditRow({ ...base, actor: "*", source: "*", reason: undefined, failures: 5, sources: 3, since: 1_795_958_320_507 })).toContain("5 failures from 3 more sources since");
  expect(formatAuditRow({ ...base, actor: "w_AAAAAAAAAAAAAAAA", source: "unix", corr_id: "c2" })).toContain("unknown_key; from unix; corr c2");
});

describe("through the pipeline", () => {
  let d: Daemon;
  let dir: string;
  const events: AuditEvent[] = [];
  const logs: string[] = [];
  beforeAll(async () => {
    dir = tempDir("hush-failures-");
    d = await startDaemon(
      { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), failures: { ...CONFIG, rate: 1, burst: 5 } },
      { version: "t", log: new Logger({ format: "json", write: (l) => logs.push(l) }), audit: { record: (e) => void events.push(e), healthy: true } },
    );
  });
  afterAll(async () => {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const req = (peer: string, listener: NeutralRequest["listener"], authorization: string | null): NeutralRequest => ({
    method: "GET",
    target: "/v1/whoami",
    authorization,
    requestId: null,
    contentType: null,
    body: new Uint8Array(0),
    listener,
    peer,
  });
  const flood = (peer: string, listener: NeutralRequest["listener"]) => {
    const auth = `HUSH1-HMAC-SHA256 Credential=${randomKeyId()}, Timestamp=${Date.now()}, Nonce=${"A".repeat(22)}, Signature=${"A".repeat(43)}`;
    return req(peer, listener, auth);
  };

  test("a flood on the shared unix socket gets rate_limited, and a worker's signed requests on it are still served", async () => {
    const unix = createPipeline(d.state, "worker");
    const tcp = createPipeline(d.state, "tcp");
    const key = d.state.registry.create({ kind: "worker", name: "legit", via: "issue" });
    const signed = (p: typeof unix, peer: string) => answer(p, req(peer, p === unix ? "worker" : "tcp", signRequest(key.macKey, key.id, { method: "GET", target: "/v1/whoami" }).authorization));
    const e0 = events.length;
    const l0 = logs.length;
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      statuses.push((await answer(unix, flood("unix", "worker"))).answer!.status);
      if (i % 50 === 0) expect((await signed(unix, "unix")).answer!.status).toBe(200);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(150);
    const limited = await answer(unix, flood("unix", "worker"));
    expect(limited.answer).toMatchObject({ status: 429, headers: { "retry-after": expect.stringMatching(/^[1-9]\d*$/) } });
    expect(JSON.parse(limited.answer!.body)).toMatchObject({ error: "rate_limited", corr_id: limited.corrId });
    expect(d.state.metrics.render()).toMatch(/hush_rejected_total\{reason="auth_rate"\} [1-9]/);
    // The flood's source over TCP is another source: its own budget. A signed request from a flooding address is served.
    expect((await answer(tcp, flood("192.0.2.50", "tcp"))).answer!.status).toBe(401);
    for (let i = 0; i < 10; i++) await answer(tcp, flood("192.0.2.50", "tcp"));
    expect((await answer(tcp, flood("192.0.2.50", "tcp"))).answer!.status).toBe(429);
    expect((await signed(tcp, "192.0.2.50")).answer!.status).toBe(200);
    // 212 failures, 2 sources: one record each so far (the rest wait for the window's summary), and as many log lines.
    expect(events.slice(e0).map((e) => [e.source, e.reason])).toEqual([
      ["unix", "unknown_key"],
      ["192.0.2.50", "unknown_key"],
    ]);
    expect(logs.slice(l0).filter((l) => l.includes('"authentication fail')).length).toBe(2);
  });
});
