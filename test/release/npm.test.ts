/**
 * hush through npm, as a user gets it: the release's tarballs installed into
 * an empty project (the registry is asked only about the other platform
 * packages, which are optional), then `npx hush …`; the main package alone
 * (no platform package) fails with a message that names the missing
 * package; and `npm install /path/to/checkout` of a checkout that is not
 * built stops with a message that says what to run.
 *
 * The tarballs come from test/_release.ts (one release per test process).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { mainManifest, platformManifest } from "../../release/npm.ts";
import { PLATFORM_NAMES, hostPlatform, platformPackage } from "../../src/client/platforms.ts";
import { ROOT, V, testRelease, type TestRelease } from "../_release.ts";
import { npmEnv, readLine, run, tempDir, tempProject } from "../_npm.ts";

const HOST = hostPlatform();

let rel: TestRelease;
beforeAll(async () => {
  rel = await testRelease();
}, 240_000);

describe("package manifests", () => {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

  test("the main package: SDK and launcher only, every platform package as an exact optional dependency", () => {
    const m = mainManifest(root, "1.2.3");
    expect(m).toMatchObject({ name: "hush-broker", version: "1.2.3", bin: { hush: "dist/sdk/launcher.cjs" }, main: "./dist/sdk/index.cjs", files: ["dist/sdk", "README.md", "SECURITY.md"] });
    expect(m.optionalDependencies).toEqual(Object.fromEntries(PLATFORM_NAMES.map((p) => [`hush-broker-${p}`, "1.2.3"])));
    for (const k of ["private", "scripts", "dependencies", "devDependencies"]) expect(m).not.toHaveProperty(k);
    expect((m.exports as Record<string, unknown>)["./ephemeral-broker"]).toEqual(root.exports["./ephemeral-broker"]);
    expect(m.typesVersions).toEqual({ "*": expect.objectContaining({ "ephemeral-broker": ["./dist/sdk/ephemeral-broker.d.cts"] }) });
  });

  test("platform packages carry npm's os, cpu and libc fields", () => {
    expect(platformManifest(root, "linux-x64", "1.2.3")).toMatchObject({ name: "hush-broker-linux-x64", os: ["linux"], cpu: ["x64"], libc: ["glibc"], files: ["bin"] });
    expect(platformManifest(root, "linux-x64-musl", "1.2.3")).toMatchObject({ os: ["linux"], cpu: ["x64"], libc: ["musl"] });
    expect(platformManifest(root, "linux-arm64", "1.2.3")).toMatchObject({ os: ["linux"], cpu: ["arm64"], libc: ["glibc"] });
    expect(platformManifest(root, "darwin-arm64", "1.2.3")).toMatchObject({ os: ["darwin"], cpu: ["arm64"] });
    expect(platformManifest(root, "darwin-arm64", "1.2.3")).not.toHaveProperty("libc");
    expect(platformManifest(root, "windows-x64", "1.2.3")).toMatchObject({ name: "hush-broker-windows-x64", os: ["win32"], cpu: ["x64"] });
    for (const p of PLATFORM_NAMES) expect(platformManifest(root, p, "1.2.3")).not.toHaveProperty("scripts");
  });

  test("the tarballs: a small main package without a binary; the platform package's binary is executable", async () => {
    const list = (tgz: string) => run(["tar", "-tvzf", tgz]).stdout;
    const main = list(rel.tarballs.main);
    expect(main).toContain("package/dist/sdk/launcher.cjs");
    expect(main).toContain("package/dist/sdk/index.d.cts");
    for (const f of ["mjs", "cjs", "d.mts", "d.cts"]) expect(main).toContain(`package/dist/sdk/ephemeral-broker.${f}`);
    expect(main).not.toMatch(/package\/(dist\/hush|bin\/)/);
    expect(statSync(rel.tarballs.main).size).toBeLessThan(1_000_000);
    for (const t of rel.targets) {
      const l = list(join(rel.out, `${platformPackage(t)}-${V}.tgz`));
      expect(l).toMatch(/^-rwx.*package\/bin\/hush(\.exe)?$/m);
      expect(l).not.toContain("package/dist");
    }
  });
});

describe.skipIf(!HOST)("npm install of the release tarballs into an empty project", () => {
  test("`npx hush run -- node test.mjs` (both SDK entry points, ESM and CommonJS) and `npx hush version` run the platform package's binary", async () => {
    if (!rel.tarballs.host) throw new Error(`the test release has no package for ${HOST}`);
    const dir = tempProject("hush-npm-install-", { type: "module" });
    const inst = run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", rel.tarballs.main, rel.tarballs.host], { cwd: dir });
    expect(inst.stderr).not.toContain("ERR!");
    expect(inst.code).toBe(0);
    expect(existsSync(join(dir, "node_modules", platformPackage(HOST!), "bin", "hush"))).toBe(true);
    writeFileSync(
      join(dir, "test.mjs"),
      `import { Client } from "hush-broker";
import { Client as EbClient } from "hush-broker/ephemeral-broker";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { Client: CjsClient } = require("hush-broker");
const { Client: CjsEbClient } = require("hush-broker/ephemeral-broker");
const a = Client.fromEnv(), b = new CjsClient(), c = new EbClient(), d = new CjsEbClient(process.env.EPHEMERAL_PIPE);
await a.set("greeting", "hello", { ttlMs: 60000 });
console.log("got=" + (await b.get("greeting")) + " n=" + (await b.incr("n", 1, { ttlMs: 60000 })));
await c.set("eb", { from: "esm" }, 60000);
console.log("eb=" + JSON.stringify(await d.get("eb")) + " slot=" + (await d.lease("pool", "w1", 60000)) + " released=" + (await c.release("w1")));
a.close(); b.close(); c.close(); d.close();
process.exit(7);
`,
    );
    const r = run(["npx", "--no-install", "hush", "run", "--", "node", "test.mjs"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe('got=hello n=1\neb={"from":"esm"} slot=0 released=true\n');
    expect(r.code).toBe(7);
    const v = run(["npx", "--no-install", "hush", "version"], { cwd: dir });
    expect(v.stdout).toMatch(new RegExp(`^hush ${V.replace(/\./g, "\\.")} \\(commit \\S+, bun \\S+, ${HOST}\\)\\n$`));
    expect(v.code).toBe(0);
    // Exit statuses pass through the launcher, also a signal's (128 + 15).
    expect(run(["npx", "--no-install", "hush", "run", "--", "sh", "-c", "kill -TERM $$"], { cwd: dir }).code).toBe(143);
    // Signals sent to the launcher reach `hush run`, which ends the command and wipes the run.
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const p = Bun.spawn(["node", join(dir, "node_modules/.bin/hush"), "run", "--", "sh", "-c", 'echo "$HUSH_SOCKET"; exec sleep 30'], {
        cwd: dir,
        env: npmEnv(),
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const socket = (await readLine(p.stdout)).trim();
      expect(existsSync(socket)).toBe(true);
      p.kill(signal);
      expect(await p.exited).toBe(code);
      expect(existsSync(dirname(socket))).toBe(false);
    }
  }, 240_000);

  test("without the platform package: the launcher and startDaemon name the missing package", () => {
    const dir = tempProject("hush-npm-nobin-", {});
    // --omit=optional is how a user ends up here (or an install that skipped optional packages).
    const inst = run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--omit=optional", rel.tarballs.main], { cwd: dir });
    expect(inst.code).toBe(0);
    const r = run(["npx", "--no-install", "hush", "version"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `hush: error: the hush binary for ${HOST} is missing: the npm package hush-broker-${HOST} is not installed\n` +
        `hush: hint: npm installs hush-broker-${HOST} with hush-broker as an optional dependency; reinstall without --omit=optional (or --no-optional), or add it yourself: npm install hush-broker-${HOST}@${V}\n`,
    );
    const s = run(["node", "-e", `require("hush-broker").startDaemon().then(() => process.exit(0), (e) => { console.log(e.code + ": " + e.message); process.exit(3); })`], { cwd: dir });
    expect(s.stdout).toBe(`unavailable: the hush binary for ${HOST} is missing: the npm package hush-broker-${HOST} is not installed\n`);
    expect(s.code).toBe(3);
  }, 120_000);
});

describe("npm install /path/to/checkout", () => {
  /** A copy of the work tree's tracked files (what a fresh clone has), without node_modules or dist. */
  function checkout(): string {
    const d = tempDir("hush-checkout-");
    for (const f of run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT }).stdout.split("\0").filter(Boolean)) {
      if (!existsSync(join(ROOT, f))) continue;
      mkdirSync(join(d, f, ".."), { recursive: true });
      cpSync(join(ROOT, f), join(d, f));
    }
    return d;
  }

  test("an unbuilt checkout stops the install with what to run, not `bun: not found`", () => {
    const co = checkout();
    const dir = tempProject("hush-npm-co-", {});
    const r = run(["npm", "install", "--no-audit", "--no-fund", co], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`hush: error: cannot build hush in ${co}: its development dependencies (Bun, tsdown) are not installed`);
    expect(r.stdout + r.stderr).toContain(`hush: hint: run \`npm ci && npm run build\` in ${co} first`);
    expect(r.stdout + r.stderr).not.toContain("not found");
  }, 120_000);

  test.skipIf(!HOST)("a built checkout installs, and its launcher runs its dist/hush", () => {
    const co = checkout();
    cpSync(join(ROOT, "dist", "sdk"), join(co, "dist", "sdk"), { recursive: true });
    cpSync(join(ROOT, "dist", "hush"), join(co, "dist", "hush"));
    const dir = tempProject("hush-npm-co-built-", {});
    const inst = run(["npm", "install", "--no-audit", "--no-fund", co], { cwd: dir });
    expect(inst.code).toBe(0);
    const v = run(["npx", "--no-install", "hush", "version"], { cwd: dir });
    expect(v.stdout).toStartWith(`hush ${V} `);
    expect(v.code).toBe(0);
    const r = run(["npx", "--no-install", "hush", "run", "--", "node", "-e", `require("hush-broker").Client.fromEnv().whoami().then((w) => console.log(w.name))`], { cwd: dir });
    expect(r.stdout).toBe("run\n");
    expect(r.code).toBe(0);
  }, 120_000);
});
