/**
 * `hush keygen audit`, `hush audit verify` and `hush audit tail --file`
 * through the compiled binary, on audit files written by AuditWriter; and,
 * when the daemon takes --audit-file, the live admin endpoints behind
 * `hush audit tail` and `hush audit hash`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, waitFor } from "./_harness.ts";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { AuditWriter, ZERO_PREV, auditHash, lineHash } from "../../src/audit/index.ts";

const dir = tempDir("hush-audit-cli-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = join(dir, "audit.key");
const LOG = join(dir, "audit.log");
let pub = "";

beforeAll(async () => {
  const r = await hush(["keygen", "audit", "--out", KEY]);
  expect(r.code).toBe(0);
  pub = r.stderr.match(/Public key: (hushaudit1\S+)/)![1];
  let t = 1_700_000_000_000;
  const publicKey = decodeKeyString(HRP.auditPublic, pub, "audit public key");
  for (const n of [9, 5]) {
    const w = AuditWriter.open({ path: LOG, auditPublicKey: publicKey, sealEvery: 4, now: () => (t += 5) });
    for (let i = 0; i < n; i++) w.record({ actor: `w_${i % 3}`, via: "worker", action: i % 2 ? "kv.get" : "cred.checkout", target: `k${i}`, result: i % 4 === 3 ? "denied" : "ok", reason: i % 4 === 3 ? "forbidden" : undefined });
    w.close();
  }
});

const lines = () => readFileSync(LOG, "utf8").trimEnd().split("\n");
function write(name: string, ls: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, ls.join("\n") + "\n");
  return p;
}

describe("hush keygen audit", () => {
  test("secret key file 0600 with the public key in its header; public key on stderr", () => {
    expect(statSync(KEY).mode & 0o777).toBe(0o600);
    const text = readFileSync(KEY, "utf8");
    expect(text).toContain(`# public key: ${pub}`);
    expect(parseKeyFile(text)).toMatch(/^HUSH-AUDIT-KEY-1[0-9A-Z]+$/);
    expect(decodeKeyString(HRP.auditSecret, parseKeyFile(text), "k").length).toBe(32);
    expect(decodeKeyString(HRP.auditPublic, pub, "k").length).toBe(32);
  });
  test("never overwrites a key file", async () => {
    const r = await hush(["keygen", "audit", "--out", KEY]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("already exists");
  });
});

describe("hush audit verify", () => {
  test("an intact file: exit 0 with lines, seals, last sealed seq and unsealed tail", async () => {
    const n = lines().length;
    const r = await hush(["audit", "verify", "--file", LOG, "--key-file", KEY, "--closed"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`lines checked: ${n} (2 runs)`);
    expect(r.stdout).toMatch(new RegExp(`seals checked: \\d+; last sealed: seq ${n}\\n`));
    expect(r.stdout).toContain("unsealed tail: 0 lines (closed cleanly)");
    expect(r.stderr).toBe("");
    const j = JSON.parse((await hush(["audit", "verify", "--file", LOG, "--key-file", KEY, "--json"])).stdout);
    expect(j).toMatchObject({ ok: true, lines: n, runs: 2, sealsChecked: true, lastSealedSeq: n, unsealedTail: 0 });
  });
  test("without the key: chain only, and it says so", async () => {
    const r = await hush(["audit", "verify", "--file", LOG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("NOT checked");
    expect(r.stderr).toContain("hush: hint: seals were not checked");
  });
  test("one changed byte: exit 1 naming the seq and line", async () => {
    const ls = lines();
    expect(ls[3]).toContain('"target":"k2"');
    ls[3] = ls[3].replace('"target":"k2"', '"target":"K2"');
    const r = await hush(["audit", "verify", "--file", write("byte.log", ls), "--key-file", KEY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hush: error: audit log broken at seq 4 \(line 4\): seq 4 \(line 4\) does not hash to the prev of seq 5/);
  });
  test("a re-chained edit: exit 1 at the first seal after it, only with the key", async () => {
    let prev = ZERO_PREV;
    const ls = lines().map((l, i) => {
      const o = JSON.parse(l);
      if (i === 1) o.target = "forged";
      o.prev = prev;
      prev = lineHash(JSON.stringify(o));
      return JSON.stringify(o);
    });
    const p = write("rechained.log", ls);
    expect((await hush(["audit", "verify", "--file", p])).code).toBe(0);
    const r = await hush(["audit", "verify", "--file", p, "--key-file", KEY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hush: error: audit log broken at seq 5 \(line 5\): seal of epoch 0 does not verify/);
  });
  test("a deleted line, a truncated closed file, a wrong key", async () => {
    const ls = lines();
    const del = await hush(["audit", "verify", "--file", write("del.log", ls.filter((_, i) => i !== 6))]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain("audit log broken at seq 7 (line 7): seq 7 missing");
    const cut = await hush(["audit", "verify", "--file", write("cut.log", ls.slice(0, 8)), "--key-file", KEY, "--closed"]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain("audit log broken at seq 8 (line 8): the file ends at seq 8");
    const other = join(dir, "other.key");
    expect((await hush(["keygen", "audit", "--out", other])).code).toBe(0);
    const wrong = await hush(["audit", "verify", "--file", LOG, "--key-file", other]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("audit log broken at seq 1 (line 1): the sealing key in this start line does not open");
  });
  test("bad usage: missing file (exit 3), not a key file (exit 2)", async () => {
    expect((await hush(["audit", "verify", "--file", join(dir, "nope.log")])).code).toBe(3);
    const bad = join(dir, "bad.key");
    writeFileSync(bad, "HUSH-SERVER-KEY-1QQQQ\n", { mode: 0o600 });
    expect((await hush(["audit", "verify", "--file", LOG, "--key-file", bad])).code).toBe(2);
  });
});

describe("hush audit tail --file", () => {
  test("piped: the file's own JSON Lines, filtered", async () => {
    const all = lines();
    const r = await hush(["audit", "tail", "--file", LOG, "--since", "1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(all.join("\n") + "\n");
    const f = await hush(["audit", "tail", "--file", LOG, "--since", "3", "--action", "cred.*", "--result", "ok"]);
    const got = f.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(got.length).toBeGreaterThan(0);
    for (const o of got) expect(o).toMatchObject({ type: "event", result: "ok" });
    for (const o of got) expect(o.action.startsWith("cred.")).toBe(true);
    expect(got[0].seq).toBeGreaterThanOrEqual(3);
    const last = await hush(["audit", "tail", "--file", LOG, "-n", "2"]);
    expect(last.stdout).toBe(all.slice(-2).join("\n") + "\n");
  });
  test("-f follows a growing file", async () => {
    const p = join(dir, "grow.log");
    const w = AuditWriter.open({ path: p });
    const proc = Bun.spawn([HUSH, "audit", "tail", "--file", p, "-f", "--since", "1"], { stdout: "pipe", stderr: "pipe" });
    let out = "";
    (async () => {
      for await (const c of proc.stdout as any) out += new TextDecoder().decode(c);
    })();
    await waitFor(() => out.includes('"type":"start"'), 5000, "the start line");
    w.record({ actor: "w_f", action: "kv.get", result: "ok" });
    await waitFor(() => out.includes('"actor":"w_f"'), 5000, "the appended line");
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    w.close();
  });
});

describe("hush audit tail / hash on the admin socket (a stand-in daemon)", () => {
  const sockDir = tempDir("hush-audit-sock-");
  const HMAC_KEY = crypto.getRandomValues(new Uint8Array(32));
  const seen: string[] = [];
  let serveLines: string[] = [];
  let live: ReadableStreamDefaultController<Uint8Array> | null = null;
  let server: ReturnType<typeof Bun.serve>;
  const enc = new TextEncoder();
  beforeAll(() => {
    server = Bun.serve({
      unix: join(sockDir, "admin.sock"),
      async fetch(req) {
        const u = new URL(req.url);
        seen.push(req.method + " " + u.pathname + u.search);
        if (u.pathname === "/v1/admin/audit/hash") return Response.json({ hash: auditHash((await req.json()).value, HMAC_KEY) });
        if (u.pathname !== "/v1/admin/audit") return Response.json({ error: "not_found", message: "no route" }, { status: 404 });
        const body = serveLines.map((l) => l + "\n").join("");
        if (u.searchParams.get("follow") !== "1") return new Response(body);
        return new Response(new ReadableStream({ start: (c) => (c.enqueue(enc.encode(body)), (live = c)), cancel: () => void (live = null) }));
      },
    });
  });
  afterAll(() => {
    server.stop(true);
    rmSync(sockDir, { recursive: true, force: true });
  });
  const env = { HUSH_SOCKET: join(sockDir, "hush.sock"), HUSH_ADMIN_CREDENTIAL: undefined };

  test("tail asks for the last lines or --since, filters locally, prints the daemon's lines", async () => {
    serveLines = lines();
    const r = await hush(["audit", "tail", "--since", "3", "--result", "denied"], { env });
    expect(r.code).toBe(0);
    expect(seen.at(-1)).toBe("GET /v1/admin/audit?since=3");
    const want = lines().filter((l) => JSON.parse(l).result === "denied");
    expect(want.length).toBeGreaterThan(1);
    expect(r.stdout).toBe(want.join("\n") + "\n");
    await hush(["audit", "tail", "-n", "5"], { env });
    expect(seen.at(-1)).toBe("GET /v1/admin/audit?tail=5");
  });
  test("a stream whose chain breaks is refused (exit 1)", async () => {
    serveLines = lines().filter((_, i) => i !== 2);
    const r = await hush(["audit", "tail", "--since", "1"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hush: error: audit stream broken: seq 4 follows seq 2");
  });
  test("-f: the last N of the history, then live lines, until SIGINT", async () => {
    serveLines = lines().slice(0, 6);
    const proc = Bun.spawn([HUSH, "audit", "tail", "-f", "-n", "2"], { env: { ...process.env, ...env, HUSH_ADMIN_CREDENTIAL: "" }, stdout: "pipe", stderr: "pipe" });
    let out = "";
    (async () => {
      for await (const c of proc.stdout as any) out += new TextDecoder().decode(c);
    })();
    await waitFor(() => out.split("\n").length > 2, 5000, "the history");
    expect(seen.at(-1)).toBe("GET /v1/admin/audit?tail=2&follow=1");
    live!.enqueue(enc.encode(lines()[6] + "\n"));
    await waitFor(() => out.split("\n").length > 3, 5000, "a live line");
    expect(out.trimEnd().split("\n").map((l) => JSON.parse(l).seq)).toEqual([5, 6, 7]);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
  });
  test("hash sends the value from stdin (one newline dropped) and prints the daemon's answer", async () => {
    const r = await hush(["audit", "hash"], { env, stdin: "s3cret value\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(auditHash("s3cret value", HMAC_KEY) + "\n");
    expect(seen.at(-1)).toBe("POST /v1/admin/audit/hash");
  });
});

// The daemon side (serve --audit-file/--audit-key, GET /v1/admin/audit, POST /v1/admin/audit/hash).
const serveHelp = Bun.spawnSync([HUSH, "serve", "--help"]).stdout.toString();
const daemonAudit = serveHelp.includes("--audit-file");
if (!daemonAudit) console.warn("SKIP daemon audit tests: this hush serve has no --audit-file yet");

describe.skipIf(!daemonAudit)("with a daemon writing the audit log", () => {
  test("tail from the admin socket, hash via the daemon, verify after stop", async () => {
    const log = join(dir, "daemon.log");
    const d = await startDaemon(["--audit-file", log, "--audit-key", pub]);
    try {
      await d.issue("audit-e2e");
      const t = await d.cli(["audit", "tail", "--since", "1"]);
      expect(t.code).toBe(0);
      const got = t.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
      expect(got[0].type).toBe("start");
      expect(got.some((o) => o.type === "event" && o.via === "admin")).toBe(true);
      const h1 = await d.cli(["audit", "hash"], { stdin: "some value\n" });
      expect(h1.code).toBe(0);
      expect(h1.stdout).toMatch(/^hmac-sha256:[A-Za-z0-9_-]{43}\n$/);
      expect((await d.cli(["audit", "hash"], { stdin: "some value" })).stdout).toBe(h1.stdout);
      expect(readFileSync(log, "utf8")).not.toContain("some value");
    } finally {
      expect(await d.stop()).toBe(0);
      d.cleanup();
    }
    const v = await hush(["audit", "verify", "--file", log, "--key-file", KEY, "--closed"]);
    expect(v.stderr).toBe("");
    expect(v.code).toBe(0);
  });
});
