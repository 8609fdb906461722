/**
 * Request limits through the real daemon: the per-key token bucket
 * (rate_limited + Retry-After, signed), the in-flight cap (busy), and the
 * deadline for a request body (a slow client is cut, not waited for).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";
import { startDaemon, type Daemon } from "../../src/server/daemon.ts";
import { mintCredential } from "../../src/server/routes-admin.ts";
import { DEFAULTS } from "../../src/config/index.ts";
import { Client } from "../../src/client/index.ts";
import { Logger } from "../../src/observe/index.ts";
import { signRequest, signResponse } from "../../src/auth/index.ts";
import { tempDir } from "../_tmp.ts";

let d: Daemon;
let dir: string;

beforeAll(async () => {
  dir = tempDir("hush-limits-");
  d = await startDaemon(
    { ...DEFAULTS, socketPath: join(dir, "s", "hush.sock"), keyRate: { rate: 5, burst: 5 }, maxInFlight: 2, requestTimeoutMs: 300 },
    { version: "t", log: new Logger({ write: () => {} }) },
  );
});
afterAll(async () => {
  await d.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("per-key token bucket: past the burst a key gets a signed rate_limited with Retry-After; other keys are unaffected", async () => {
  const rec = d.state.registry.create({ kind: "worker", name: "busy", via: "issue" });
  let limited: Response | undefined;
  let sig = "";
  for (let i = 0; i < 8 && !limited; i++) {
    const s = signRequest(rec.macKey, rec.id, { method: "GET", target: "/v1/whoami" });
    const r = await fetch("http://localhost/v1/whoami", { headers: { authorization: s.authorization }, unix: d.socketPath } as RequestInit);
    if (r.status === 429) {
      limited = r;
      sig = s.signature;
    } else expect(r.status).toBe(200);
  }
  expect(limited).toBeDefined();
  const body = await limited!.text();
  expect(JSON.parse(body).error).toBe("rate_limited");
  expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(limited!.headers.get("hush-signature")).toBe(signResponse(rec.macKey, sig, 429, body));
  expect(d.state.metrics.render()).toMatch(/hush_rejected_total\{reason="rate_limit"\} [1-9]/);
  const other = new Client({ socket: d.socketPath, credential: mintCredential(d.state, d.state.registry.create({ kind: "worker", name: "calm", via: "issue" })) });
  expect((await other.whoami()).name).toBe("calm");
  const e: any = await new Client({ socket: d.socketPath, credential: mintCredential(d.state, rec), retries: 0 }).whoami().catch((x) => x);
  expect(e.code).toBe("rate_limited");
});

/** Open a request whose body never finishes (a slow client). */
function slowRequest(): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ path: d.socketPath });
    let out = "";
    s.on("data", (c) => (out += c.toString()));
    s.on("close", () => resolve(out));
    s.write("PUT /v1/kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"va");
  });
}

test("a request body that does not arrive within the deadline is answered and cut; in-flight cap answers busy", async () => {
  const a = slowRequest();
  const b = slowRequest();
  await Bun.sleep(50);
  // Two slow bodies hold both in-flight places: the next request is refused at once.
  const r = await fetch("http://localhost/v1/whoami", { unix: d.socketPath } as RequestInit);
  expect(r.status).toBe(503);
  expect((await r.json()).error).toBe("busy");
  const [ra, rb] = await Promise.all([a, b]);
  for (const raw of [ra, rb]) {
    expect(raw).toContain("HTTP/1.1 400");
    expect(raw).toContain("request body not received within 300 ms");
  }
  expect(d.state.inFlight).toBe(0);
  expect((await fetch("http://localhost/v1/health", { unix: d.socketPath } as RequestInit)).status).toBe(200);
});
