/**
 * `hush keygen audit`, `hush audit verify` and `hush audit tail --file`
 * through the compiled binary, on audit files written by AuditWriter; and,
 * when the daemon takes --audit-file, the live admin endpoints behind
 * `hush audit tail` and `hush audit hash`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, waitFor } from "./_harness.ts";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { AuditWriter, SealStateFile, ZERO_PREV, auditHash, lineHash, parseSealStateFile, sealKeyId } from "../../src/audit/index.ts";

const dir = tempDir("hush-audit-cli-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = join(dir, "audit.verify");
const STATE = join(dir, "audit.state");
const LOG = join(dir, "audit.log");
let keyId = "";

beforeAll(async () => {
  const r = await hush(["keygen", "audit", "--out", KEY, "--state-out", STATE]);
  expect(r.code).toBe(0);
  keyId = r.stderr.match(/Key id: ([A-Za-z0-9_-]{12})\n/)![1];
  let t = 1_700_000_000_000;
  for (const n of [9, 5]) {
    const w = AuditWriter.open({ path: LOG, sealing: SealStateFile.load(STATE), sealEvery: 4, now: () => (t += 5) });
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
  test("verification key and sealing state from one seed, both 0600; the key id on stderr", () => {
    expect(statSync(KEY).mode & 0o777).toBe(0o600);
    expect(statSync(STATE).mode & 0o777).toBe(0o600);
    const seed = decodeKeyString(HRP.auditVerify, parseKeyFile(readFileSync(KEY, "utf8")), "k");
    expect(parseKeyFile(readFileSync(KEY, "utf8"))).toMatch(/^HUSH-AUDIT-VERIFY-1[0-9A-Z]+$/);
    expect(readFileSync(KEY, "utf8")).toContain(`# key id ${keyId}. Verifies the audit log`);
    expect(sealKeyId(seed)).toBe(keyId);
    // The state file was written at epoch 0 by keygen; the two runs above moved it on.
    const st = parseSealStateFile(readFileSync(STATE, "utf8"));
    expect(st.keyId).toBe(keyId);
    expect(st.epoch).toBeGreaterThan(0);
  });
  test("never overwrites a file, and leaves nothing behind when one path is refused", async () => {
    const r = await hush(["keygen", "audit", "--out", KEY, "--state-out", join(dir, "new.state")]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("already exists");
    expect(existsSync(join(dir, "new.state"))).toBe(false);
    const r2 = await hush(["keygen", "audit", "--out", join(dir, "new.verify"), "--state-out", STATE]);
    expect(r2.code).toBe(4);
    expect(existsSync(join(dir, "new.verify"))).toBe(false);
  });
  test("needs --state-out; prints the verification key to stdout without --out", async () => {
    const r = await hush(["keygen", "audit"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hush keygen audit needs --state-out FILE");
    const s = join(dir, "stdout.state");
    const r2 = await hush(["keygen", "audit", "--state-out", s]);
    expect(r2.code).toBe(0);
    expect(parseKeyFile(r2.stdout)).toMatch(/^HUSH-AUDIT-VERIFY-1/);
    expect(sealKeyId(decodeKeyString(HRP.auditVerify, parseKeyFile(r2.stdout), "k"))).toBe(parseSealStateFile(readFileSync(s, "utf8")).keyId);
  });
});

describe("hush audit verify", () => {
  test("an intact file: exit 0 with lines, seals, last sealed seq and unsealed tail", async () => {
    const n = lines().length;
    const r = await hush(["audit", "verify", "--file", LOG, "--key-file", KEY, "--closed"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`lines checked: ${n} (2 runs)`);
    expect(r.stdout).toMatch(new RegExp(`seals checked: \\d+; last sealed: seq ${n}\\n`));
    expect(r.stdout).toMatch(new RegExp(`vouched for: seq 1\\.\\.${n} \\(.*\\), sealed epochs 0\\.\\.\\d+: these lines are as the daemon wrote them`));
    expect(r.stdout).toContain("unsealed tail: 0 lines (closed cleanly)");
    expect(r.stderr).toBe("");
    const j = JSON.parse((await hush(["audit", "verify", "--file", LOG, "--key-file", KEY, "--json"])).stdout);
    expect(j).toMatchObject({ ok: true, lines: n, runs: 2, sealsChecked: true, lastSealedSeq: n, unsealedTail: 0 });
  });
  test("without the key: chain only, and it says so", async () => {
    const r = await hush(["audit", "verify", "--file", LOG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("NOT checked");
    expect(r.stderr).toContain("hush: warning: CHAIN ONLY: seals were not checked. This catches a careless edit, but not a careful one");
  });
  test("one changed byte: exit 1 naming the seq and line", async () => {
    const ls = lines();
    expect(ls[4]).toContain('"target":"k2"');
    ls[4] = ls[4].replace('"target":"k2"', '"target":"K2"');
    const r = await hush(["audit", "verify", "--file", write("byte.log", ls), "--key-file", KEY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hush: error: audit log broken at seq 5 \(line 5\): seq 5 \(line 5\) does not hash to the prev of seq 6/);
  });
  test("a re-chained edit: exit 1 at the first seal after it, only with the key", async () => {
    let prev = ZERO_PREV;
    const ls = lines().map((l, i) => {
      const o = JSON.parse(l);
      if (i === 2) o.target = "forged";
      o.prev = prev;
      prev = lineHash(JSON.stringify(o));
      return JSON.stringify(o);
    });
    const p = write("rechained.log", ls);
    expect((await hush(["audit", "verify", "--file", p])).code).toBe(0);
    const r = await hush(["audit", "verify", "--file", p, "--key-file", KEY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hush: error: audit log broken at seq 7 \(line 7\): seal of epoch 1 does not verify/);
  });
  test("a deleted line, a truncated closed file, a wrong key", async () => {
    const ls = lines();
    const del = await hush(["audit", "verify", "--file", write("del.log", ls.filter((_, i) => i !== 6))]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain("audit log broken at seq 7 (line 7): seq 7 missing");
    const cut = await hush(["audit", "verify", "--file", write("cut.log", ls.slice(0, 8)), "--key-file", KEY, "--closed"]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toContain("audit log broken at seq 8 (line 8): the file ends at seq 8");
    const other = join(dir, "other.verify");
    expect((await hush(["keygen", "audit", "--out", other, "--state-out", join(dir, "other.state")])).code).toBe(0);
    const wrong = await hush(["audit", "verify", "--file", LOG, "--key-file", other]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("audit log broken at seq 1 (line 1): this run was sealed with another verification key");
    const state = await hush(["audit", "verify", "--file", LOG, "--key-file", STATE]);
    expect(state.code).toBe(2);
    expect(state.stderr).toContain("is the daemon's sealing state, not the verification key");
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

// The daemon side (serve --audit-file/--audit-state-file, GET /v1/admin/audit, POST /v1/admin/audit/hash).
const serveHelp = Bun.spawnSync([HUSH, "serve", "--help"]).stdout.toString();
const daemonAudit = serveHelp.includes("--audit-file");
if (!daemonAudit) console.warn("SKIP daemon audit tests: this hush serve has no --audit-file yet");

describe.skipIf(!daemonAudit)("with a daemon writing the audit log", () => {
  test("tail from the admin socket, hash via the daemon, verify after stop", async () => {
    const log = join(dir, "daemon.log");
    const [dkey, dstate] = [join(dir, "daemon.verify"), join(dir, "daemon.state")];
    expect((await hush(["keygen", "audit", "--out", dkey, "--state-out", dstate])).code).toBe(0);
    const d = await startDaemon(["--audit-file", log, "--audit-state-file", dstate]);
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
    const v = await hush(["audit", "verify", "--file", log, "--key-file", dkey, "--closed"]);
    expect(v.stderr).toBe("");
    expect(v.code).toBe(0);
  });
});
