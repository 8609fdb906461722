/**
 * `hush serve --idle-timeout` through the compiled binary: signed requests
 * (over WebSocket and HTTP) keep the daemon alive; health probes, status,
 * refused requests, an open `audit tail -f` stream and a silent WebSocket do not.
 * Once unused for the timeout it stops as on SIGTERM: exit 0, sockets
 * unlinked, an `idle_stop` audit event, then the run's stop line and closing
 * seal (the follower receives them and ends; `audit verify --closed`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "../../src/client/index.ts";
import { HUSH, hush, rawRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const dir = tempDir("hush-idle-");
const started: Daemon[] = [];
afterAll(() => started.forEach((d) => d.cleanup()));

const IDLE_MS = 2000;

describe("hush serve --idle-timeout", () => {
  test("use keeps it alive; probes, refusals, streams and silent connections do not; it stops audited and clean", async () => {
    const [file, key, state] = ["audit.log", "audit.verify", "audit.state"].map((f) => join(dir, f));
    expect((await hush(["keygen", "audit", "--out", key, "--state-out", state])).code).toBe(0);
    const d = await startDaemon(["--idle-timeout", `${IDLE_MS}ms`, "--audit-file", file, "--audit-state-file", state]);
    started.push(d);
    const tail = Bun.spawn([HUSH, "audit", "tail", "-f", "--since", "0", "--json", "--socket", d.socket], { stdout: "pipe", stderr: "pipe" });
    const tailOut = new Response(tail.stdout).text();
    const ws = new Client({ socket: d.socket, credential: await d.issue("ci"), autoRekey: false, retries: 0 });
    const http = new Client({ socket: d.socket, credential: await d.issue("ci-http"), autoRekey: false, retries: 0, transport: "http" });
    // Signed requests for 1.75 × the timeout: it must still be serving afterwards.
    const useUntil = Date.now() + IDLE_MS * 1.75;
    let lastUse = 0;
    for (let i = 0; Date.now() < useUntil; i++) {
      await (i % 2 ? http : ws).set("k", "v", { ttlMs: 60_000 });
      lastUse = Date.now(); // the answer is in: the daemon counted this use before it sent it
      await Bun.sleep(250);
    }
    expect(d.proc.exitCode).toBe(null);
    // From here on only what must not count: health probes, status, unsigned and badly signed requests,
    // the open audit stream, and the WebSocket connection left open (its own idle limit is 60 s).
    let probes = 0;
    const probing = (async () => {
      while (d.proc.exitCode === null) {
        await rawRequest(d.socket, "GET", "/v1/health").catch(() => {});
        await ws.status().catch(() => {}); // signed, but passive: observation is not use
        await rawRequest(d.socket, "GET", "/v1/kv/k", { headers: { authorization: "HUSH-HMAC-SHA256 bogus" } }).catch(() => {});
        probes++;
        await Bun.sleep(100);
      }
    })();
    expect(await d.proc.exited).toBe(0);
    const stoppedAfter = Date.now() - lastUse;
    await probing;
    expect(probes).toBeGreaterThan(3);
    expect(stoppedAfter).toBeGreaterThanOrEqual(IDLE_MS);
    expect(existsSync(d.socket) || existsSync(d.admin)).toBe(false);
    await waitFor(() => d.log().includes("stopped; store wiped, sockets removed"), 2000, "the stop message");
    expect(d.log()).toContain('"reason":"idle_timeout"');
    // The follower got the whole run, stop line and closing seal included, and ended by itself.
    expect(await tail.exited).toBe(0);
    expect(await tailOut).toBe(readFileSync(file, "utf8"));
    const lines = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.action === "idle_stop")).toEqual([expect.objectContaining({ type: "event", actor: "daemon", via: "serve", result: "ok", reason: "idle_timeout" })]);
    expect(lines.slice(-2).map((l) => l.type)).toEqual(["stop", "seal"]);
    const v = await hush(["audit", "verify", "--file", file, "--key-file", key, "--closed"]);
    expect({ code: v.code, err: v.stderr }).toEqual({ code: 0, err: "" });
    ws.close();
    http.close();
  }, 30_000);

  test("a bad duration is refused before anything starts", async () => {
    const r = await hush(["serve", "--socket", join(dir, "bad", "hush.sock"), "--idle-timeout", "10 minutes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("hush: error: --idle-timeout: expected a duration like 30s");
    expect(existsSync(join(dir, "bad", "hush.sock"))).toBe(false);
  });
});
