/**
 * Rekey with key confirmation through the compiled daemon (PROTOCOL.md §6):
 * a rekey answer lost on the way (a proxy socket closes the connection as
 * the answer arrives) is retried by the SDK with the old key and the worker
 * carries on; the old key rekeying after the new one is confirmed locks the
 * worker, audited; two OS processes sharing one credential and both
 * rekeying lock it; `hush rotate worker` on a file credential leaves the
 * old key good for that one rekey only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { join, resolve } from "node:path";
import { startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { AdminClient, Client } from "../../src/client/index.ts";
import { formatKeyFile } from "../../src/keys/index.ts";

const SDK = resolve(import.meta.dir, "../../dist/sdk/index.mjs");

let d: Daemon;
let auditFile: string;
let admin: AdminClient;
const clients: (Client | AdminClient)[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  auditFile = join(tempDir("hush-rekey-audit-"), "audit.jsonl");
  d = await startDaemon(["--audit-file", auditFile]);
  admin = new AdminClient({ socket: d.socket });
  clients.push(admin);
  await admin.call("POST", "/v1/admin/creds", { name: "api", values: ["s3cr3t-api-value"], allow: ["ci"] });
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  await d.stop();
  d.cleanup();
});

/**
 * A unix socket in front of the daemon's that, while `drop` > 0, lets a
 * `POST /v1/rekey` through and closes the client's connection as soon as the
 * daemon's answer starts to arrive: the daemon has rotated, the worker never
 * hears of it.
 */
async function lossyProxy(): Promise<{ socket: string; drop: number; rekeys: number; dropped: number }> {
  const socket = join(tempDir("hush-proxy-"), "hush.sock");
  const p = { socket, drop: 0, rekeys: 0, dropped: 0 };
  const server = createServer((client) => {
    const up = connect({ path: d.socket });
    let loseAnswer = false;
    client.on("data", (b) => {
      if (b.toString("latin1").startsWith("POST /v1/rekey ")) {
        p.rekeys++;
        if (p.drop > 0) {
          p.drop--;
          loseAnswer = true;
        }
      }
      up.write(b);
    });
    up.on("data", (b) => {
      if (!loseAnswer) return void client.write(b);
      p.dropped++;
      client.destroy();
      up.destroy();
    });
    for (const s of [client, up]) s.on("error", () => {});
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(socket, r));
  return p;
}

async function issue(name: string): Promise<{ id: string; credential: string }> {
  const r = await admin.call("POST", "/v1/admin/workers", { name, tags: ["ci"] });
  return { id: r.id, credential: r.credential };
}

// The lossy proxy reads plain HTTP (it finds the rekey by its request line), so these SDKs use the
// HTTP transport; a dropped WebSocket connection gives the same \`unavailable\` (test/client/ws.test.ts).
function client(credential: string, socket = d.socket): Client {
  const c = new Client({ socket, credential, autoRekey: true, retries: 0, transport: "http" });
  clients.push(c);
  return c;
}

async function workerInfo(id: string): Promise<any> {
  const r = await d.cli(["workers", "list", "--json"]);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((w) => w.id === id);
}

/** The audit events about key `id` (actor or target), as action/result pairs. */
function audited(id: string): string[] {
  const lines = readFileSync(auditFile, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return lines.filter((e) => e.type === "event" && (e.actor === id || e.target === id) && !e.action.startsWith("admin.")).map((e) => `${e.action}:${e.result}`);
}

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: any) => (e?.code as string) ?? String(e));

describe("a rekey whose answer is lost", () => {
  let w: { id: string; credential: string };
  let c: Client;

  test("the SDK sends it again with the old key and carries on with the new key; nothing is locked", async () => {
    const proxy = await lossyProxy();
    w = await issue("lossy");
    c = client(w.credential, proxy.socket);
    await c.set("lossy/k", "v", { ttlMs: 60_000 });
    proxy.drop = 1;
    await c.rekey();
    expect(proxy).toMatchObject({ rekeys: 2, dropped: 1 });
    expect(c.credential).not.toBe(w.credential);
    expect(await c.get("lossy/k")).toBe("v");
    expect((await c.checkout("api")).value).toBe("s3cr3t-api-value");
    expect(await workerInfo(w.id)).toMatchObject({ status: "active", rekeys: 1, rekey_pending: false });
    // Two rekeys answered (the first answer lost), one confirmed, no clone.
    expect(audited(w.id).filter((a) => a.startsWith("rekey"))).toEqual(["rekey:ok", "rekey:ok", "rekey.confirm:ok"]);
    expect(d.log()).not.toContain(`"worker":"${w.id}","event":"clone_suspected"`);
  });

  test("the old key rekeying after the new one was confirmed is a second holder: locked and audited", async () => {
    const old = client(w.credential);
    expect(await codeOf(old.rekey())).toBe("auth_failed");
    expect(await workerInfo(w.id)).toMatchObject({ status: "revoked" });
    expect(audited(w.id)).toContain("clone_suspected:denied");
    expect(await codeOf(c.whoami())).toBe("auth_failed");
  });
});

describe("a rekey whose answer is lost, in Node", () => {
  test("the SDK bundle sends it again and carries on (node:http transport)", async () => {
    const proxy = await lossyProxy();
    const w = await issue("lossy-node");
    proxy.drop = 1;
    const script = `
      const { Client } = await import(${JSON.stringify(SDK)});
      const c = new Client({ socket: process.env.HUSH_SOCKET, credential: process.env.LOSSY_CRED, autoRekey: true, retries: 0, transport: "http" });
      await c.rekey();
      await c.set("lossy-node/k", "v", { ttlMs: 60000 });
      console.log(c.credential === process.env.LOSSY_CRED ? "same" : await c.get("lossy-node/k"));
      c.close();`;
    const p = Bun.spawn(["node", "--input-type=module", "-e", script], { env: { ...process.env, HUSH_SOCKET: proxy.socket, LOSSY_CRED: w.credential }, stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    expect({ out: out.trim(), err }).toEqual({ out: "v", err: "" });
    expect(proxy).toMatchObject({ rekeys: 2, dropped: 1 });
    expect(await workerInfo(w.id)).toMatchObject({ status: "active", rekeys: 1 });
  });
});

describe("two processes sharing one credential", () => {
  test("both rekeying (at the same time, in Node, through the SDK bundle) lock the worker, whoever is first", async () => {
    const w = await issue("shared");
    const script = `
      const { Client } = await import(${JSON.stringify(SDK)});
      const c = new Client({ socket: process.env.HUSH_SOCKET, credential: process.env.SHARED_CRED, autoRekey: true, retries: 0 });
      let out = "ok";
      try { await c.rekey(); await c.whoami(); } catch (e) { out = e.code ?? String(e); }
      c.close();
      console.log(out);`;
    const env = { ...process.env, HUSH_SOCKET: d.socket, SHARED_CRED: w.credential };
    const procs = [0, 1].map(() => Bun.spawn(["node", "--input-type=module", "-e", script], { env, stdout: "pipe", stderr: "pipe" }));
    const outs = await Promise.all(procs.map(async (p) => (await new Response(p.stdout).text()).trim()));
    expect(outs).not.toEqual(["ok", "ok"]);
    for (const o of outs) expect(["ok", "auth_failed"]).toContain(o);
    expect(await workerInfo(w.id)).toMatchObject({ status: "revoked" });
    expect(audited(w.id)).toContain("clone_suspected:denied");
  });
});

describe("hush rotate worker with a credential in a file", () => {
  test("the old key is good for the rekey only; whoever completes it keeps the worker, and the old key is then refused at once", async () => {
    const w = await issue("filed");
    const file = join(tempDir("hush-filed-"), "worker.cred");
    writeFileSync(file, formatKeyFile(w.credential, { kind: "worker credential", note: `id: ${w.id}` }), { mode: 0o600, flag: "wx" });
    const cli = (args: string[]) => d.cli([...args, "--credential-file", file]);
    const rot = await d.cli(["rotate", "worker", w.id]);
    expect(rot.code).toBe(0);
    expect(rot.stderr).toContain("not a revocation");
    // The CLI never rekeys: it is refused, with a hint.
    const kv = await cli(["kv", "list"]);
    expect(kv.code).toBe(5);
    expect(kv.stderr).toContain("rotate its key");
    // A copy of the file in an SDK client completes the rotation and checks out.
    const copy = client(readFileSync(file, "utf8"));
    expect((await copy.checkout("api")).value).toBe("s3cr3t-api-value");
    expect(await workerInfo(w.id)).toMatchObject({ status: "active", rekeys: 1, rekey_required: false });
    // The file's key is refused at once (no grace period after a demanded rotation), and not locked…
    const after = await cli(["kv", "list"]);
    expect(after.code).toBe(5);
    expect(after.stderr).not.toContain("rotate its key");
    expect(await workerInfo(w.id)).toMatchObject({ status: "active" });
    // …until it tries to rekey: then it is a second holder.
    expect(await codeOf(client(readFileSync(file, "utf8")).rekey())).toBe("auth_failed");
    expect(await workerInfo(w.id)).toMatchObject({ status: "revoked" });
    expect(audited(w.id)).toContain("clone_suspected:denied");
  });
});
