/**
 * The README as a new user meets it: the commands on its first screen,
 * run as written in a fresh directory that looks like a clone (dist/hush,
 * the repository's .gitignore), store a value and read it back; the daemon's
 * ready banner says the same; what they write stays out of `git status`.
 * Also the health/metrics block (curl, promtool) and the `audit hash` claim.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, linkSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { HUSH, hush, startDaemon, tempDir, waitFor } from "./_harness.ts";

const ROOT = resolve(import.meta.dir, "../..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
/** One screen: what a new user sees before scrolling. */
const FIRST_SCREEN = README.split("\n").slice(0, 40).join("\n");
const blocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);

let clone: string;
let xdg: string;
let daemon: ReturnType<typeof Bun.spawn>;
let log = "";
const env = () => {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("HUSH_")) e[k] = v;
  return { ...e, XDG_RUNTIME_DIR: xdg, NO_COLOR: "1" };
};

beforeAll(async () => {
  clone = tempDir("hush-clone-");
  xdg = tempDir("hush-xdg-");
  mkdirSync(join(clone, "dist"));
  try {
    linkSync(HUSH, join(clone, "dist", "hush"));
  } catch {
    copyFileSync(HUSH, join(clone, "dist", "hush"));
  }
  copyFileSync(join(ROOT, ".gitignore"), join(clone, ".gitignore"));
  // What `npm start` runs after the build (checked below).
  daemon = Bun.spawn(["./dist/hush", "serve"], { cwd: clone, env: env(), stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  (async () => {
    for await (const c of daemon.stderr as any) log += new TextDecoder().decode(c);
  })();
  await waitFor(() => log.includes("hush: ready"), 10_000, "hush serve");
});
afterAll(() => daemon.kill("SIGKILL"));

describe("README, first screen", () => {
  test("says what hush is, then npm start, then a first use", () => {
    expect(FIRST_SCREEN).toStartWith("# hush\n\nhush is ");
    const [start, use] = blocks(FIRST_SCREEN);
    expect(start).toContain("npm ci && npm start");
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start).toEndWith("&& ./dist/hush serve");
    expect(use).toContain("kv get");
  });

  test("its commands, run as written in a fresh clone, store a value and read it back", () => {
    const use = blocks(FIRST_SCREEN).find((b) => b.includes("kv get"))!;
    const r = Bun.spawnSync(["bash", "-euc", use], { cwd: clone, env: env(), stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).not.toContain("error");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe("s3cret\n");
    // The ready banner shows the same first steps, with the binary as the user can run it.
    for (const line of use.split("\n").filter((l) => l.startsWith("./dist/hush workers") || l.startsWith("export"))) {
      expect(log).toContain("  " + line.split("  #")[0].trim() + "\n");
    }
    expect(log).not.toMatch(/^ {2}hush /m);
  });

  test.skipIf(!Bun.which("git"))("the credential it wrote stays out of git status", () => {
    Bun.spawnSync(["git", "init", "-q"], { cwd: clone });
    const st = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=all"], { cwd: clone }).stdout.toString();
    expect(st).toBe("?? .gitignore\n");
    for (const f of ["me.cred", "join.token", "ops.admin", "server.key", "db.secret", "audit.key"]) {
      expect(Bun.spawnSync(["git", "check-ignore", "-q", f], { cwd: clone }).exitCode).toBe(0);
    }
  });
});

describe("README, health and metrics", () => {
  const ok = Bun.which("curl") && Bun.which("promtool");
  if (!ok) console.warn("SKIP README metrics block: curl or promtool is not installed");
  test.skipIf(!ok)("the curl block works as written and the metrics pass promtool", () => {
    const block = blocks(README).find((b) => b.includes("promtool check metrics"))!;
    const r = Bun.spawnSync(["bash", "-euo", "pipefail", "-c", block], { env: { ...env(), HUSH_SOCKET: join(xdg, "hush", "hush.sock") }, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain('{"ok":true,"version":"');
    expect(r.stdout.toString()).toContain('{"ready":true}');
  });
});

describe("README, audit hash", () => {
  test("cred.put and cred.checkout lines carry the value_hash that `hush audit hash` prints", async () => {
    expect(README).not.toContain("No event refers to a value yet");
    const dir = tempDir();
    const file = join(dir, "audit.jsonl");
    const d = await startDaemon(["--audit-file", file]);
    try {
      const cred = await d.issue("auditor", ["--tags", "ci"]);
      expect((await d.cli(["creds", "put", "db/pw", "--allow", "ci"], { stdin: "pw-42" })).code).toBe(0);
      expect((await d.cli(["checkout", "db/pw"], { env: { HUSH_CREDENTIAL: cred } })).stdout).toBe("pw-42\n");
      const hash = (await d.cli(["audit", "hash"], { stdin: "pw-42" })).stdout.trim();
      expect(hash).toStartWith("hmac-sha256:");
      const lines = (await hush(["audit", "tail", "--file", file, "-n", "100"])).stdout.trim().split("\n").map((l) => JSON.parse(l));
      for (const action of ["cred.put", "cred.checkout"]) expect(lines.find((l) => l.action === action)?.value_hash).toBe(hash);
    } finally {
      d.cleanup();
    }
  });
});
