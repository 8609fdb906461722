/**
 * hush-broker as its users install and run it: the release's npm tarballs
 * (test/_release.ts) installed with real test runners from the npm registry
 * into one shared directory per test run, and a project per runner beside
 * it (test/consumers/projects, copied; each test file there is t1, copied as
 * t2…t4):
 *
 *   jest-cjs        jest, CommonJS, default config (require("hush-broker"))
 *   jest-esm        jest with native ESM (--experimental-vm-modules), no transform
 *   ts-jest         ts-jest with node10 resolution and the strictest settings
 *   vitest-threads  vitest, pool "threads"        vitest-forks: pool "forks"
 *   playwright      @playwright/test as a test runner (no browser), worker fixtures
 *   tsc             tsc --noEmit under NodeNext, bundler and node10 resolution (the
 *                   SDK's types need no @types/node; NodeNext also checks the
 *                   fixtures against Playwright's own types)
 *   ephemeral-broker  an ephemeral-broker user's jest (CommonJS) tests with only
 *                   their import line changed to hush-broker/ephemeral-broker,
 *                   run as `npx hush run -- npx jest` on 2 workers (no globalSetup)
 *   eb-playwright   ephemeral-broker's Playwright example (no browser: its broker calls),
 *                   its Client import changed to hush-broker/ephemeral-broker, run as
 *                   `npx hush run --default-ttl 30m -- npx playwright test` on 5 workers;
 *                   and the same file with the original import under ephemeral-broker's
 *                   own daemon (`npx ephemeral-broker start --no-require-ttl -- …`), which
 *                   shows the port asks of hush only what ephemeral-broker does
 *
 * Each runner runs 4 test files on 4 workers against one daemon started by
 * `hush-broker/global-setup` from the installed platform package; every file
 * runs projects/scenario.cjs. This file then checks what they wrote: 4
 * workers at once, 4 distinct pool slots, a fixture created exactly once,
 * a counter that counted every increment once, a critical section never
 * entered twice at once and fencing tokens that only grew, and the daemon's
 * socket gone after the run. publint and @arethetypeswrong/cli check the
 * package itself.
 *
 * Registry use: `npm install --prefer-offline --no-audit --no-fund` of the
 * pinned runner versions below, once per test run.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { hostPlatform, platformPackage } from "../../src/client/platforms.ts";
import { ROOT, testRelease } from "../_release.ts";
import { npmEnv, run, tempDir, type RunResult } from "../_npm.ts";

const RUNNERS = {
  jest: "30.5.2",
  "ts-jest": "29.4.15",
  "@types/jest": "30.0.0",
  vitest: "4.1.12",
  vite: "8.3.8",
  "@playwright/test": "1.65.1",
  typescript: "5.9.3",
  "@types/node": "20.19.43",
  "@ephemeral-broker/core": "1.0.5",
};
const HOST = hostPlatform();
const PROJECTS = join(import.meta.dir, "projects");

interface Consumer {
  name: string;
  /** The runner's command, relative to the shared directory's node_modules. */
  cmd: (nm: string) => string[];
  env?: Record<string, string>;
}
const jest = (nm: string) => ["node", join(nm, "jest/bin/jest.js"), "--ci", "--cacheDirectory", ".jest-cache"];
const vitest = (nm: string) => ["node", join(nm, "vitest/vitest.mjs"), "run"];
const CONSUMERS: Consumer[] = [
  { name: "jest-cjs", cmd: jest },
  { name: "jest-esm", cmd: jest, env: { NODE_OPTIONS: "--experimental-vm-modules" } },
  { name: "ts-jest", cmd: jest },
  { name: "vitest-threads", cmd: vitest },
  { name: "vitest-forks", cmd: vitest },
  { name: "playwright", cmd: (nm) => ["node", join(nm, "@playwright/test/cli.js"), "test"] },
];
const TSC_MODES = ["nodenext", "bundler", "node10"] as const;
/** The ephemeral-broker project: its command, run in its directory (npx finds both bins in the shared node_modules). */
const EB_CMD = ["npx", "--no-install", "hush", "run", "--", "npx", "--no-install", "jest", "--ci", "--cacheDirectory", ".jest-cache"];
/** ephemeral-broker's Playwright example: under hush (import changed), and as written under ephemeral-broker's daemon. */
const PLAYWRIGHT = ["npx", "--no-install", "playwright", "test"];
const EB_PW_HUSH = ["npx", "--no-install", "hush", "run", "--default-ttl", "30m", "--", ...PLAYWRIGHT];
const EB_PW_EB = ["npx", "--no-install", "ephemeral-broker", "start", "--no-require-ttl", "--", ...PLAYWRIGHT];
const EB_PW_SPEC = "eb-playwright/tests/parallel.js";
const HUSH_IMPORT = 'import { Client } from "hush-broker/ephemeral-broker";';
const EB_IMPORT = 'import { Client } from "@ephemeral-broker/core";';

let shared: string;
let install: RunResult;
let ebRun: RunResult;
let ebPwHush: RunResult;
let ebPwEb: RunResult;
const runs = new Map<string, RunResult & { out: string }>();
const tscRuns = new Map<string, RunResult>();

beforeAll(async () => {
  const rel = await testRelease();
  if (!rel.tarballs.host) throw new Error(`the test release has no package for ${HOST}`);
  shared = tempDir("hush-consumers-");
  writeFileSync(
    join(shared, "package.json"),
    JSON.stringify({ name: "consumers", private: true, devDependencies: { ...RUNNERS, "hush-broker": `file:${rel.tarballs.main}`, [platformPackage(HOST!)]: `file:${rel.tarballs.host}` } }, null, 2),
  );
  install = run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: shared, timeoutMs: 600_000 });
  console.error(`test/consumers: npm install of the runners and hush-broker: ${install.ms} ms`);
  if (install.code !== 0) throw new Error(`npm install failed: ${install.stderr}`);
  for (const entry of readdirSync(PROJECTS)) cpSync(join(PROJECTS, entry), join(shared, entry), { recursive: true });
  for (const c of CONSUMERS) {
    const tests = join(shared, c.name, "__tests__");
    const first = readdirSync(tests)[0]!;
    for (const i of [2, 3, 4]) cpSync(join(tests, first), join(tests, first.replace("1", String(i))));
  }
  // One after the other: each runner already keeps both cores busy with its 4 workers.
  const nm = join(shared, "node_modules");
  // TMPDIR inside the shared directory: what the runners cache there (Playwright's transform cache) goes with it.
  const tmp = join(shared, "tmp");
  mkdirSync(tmp);
  for (const c of CONSUMERS) {
    const out = join(shared, "out", c.name);
    mkdirSync(out, { recursive: true });
    const r = await runAsync(c.cmd(nm), join(shared, c.name), { ...c.env, CONSUMER_OUT: out, CI: "1", TMPDIR: tmp });
    console.error(`test/consumers: ${c.name}: ${r.ms} ms`);
    runs.set(c.name, { ...r, out });
  }
  const eb = join(shared, "ephemeral-broker", "tests");
  cpSync(join(eb, "parallel.js"), join(eb, "parallel2.js"));
  ebRun = await runAsync(EB_CMD, join(shared, "ephemeral-broker"), { CI: "1", TMPDIR: tmp });
  console.error(`test/consumers: ephemeral-broker: ${ebRun.ms} ms`);
  ebPwHush = await runAsync(EB_PW_HUSH, join(shared, "eb-playwright"), { CI: "1", TMPDIR: tmp });
  console.error(`test/consumers: eb-playwright under hush: ${ebPwHush.ms} ms`);
  // The same project with the example's own import, under ephemeral-broker's daemon (HMAC on, as in the example).
  cpSync(join(shared, "eb-playwright"), join(shared, "eb-playwright-eb"), { recursive: true });
  const spec = readFileSync(join(shared, EB_PW_SPEC), "utf8");
  writeFileSync(join(shared, "eb-playwright-eb/tests/parallel.js"), spec.replace(HUSH_IMPORT, EB_IMPORT));
  const secret = randomBytes(16).toString("hex");
  ebPwEb = await runAsync(EB_PW_EB, join(shared, "eb-playwright-eb"), { CI: "1", TMPDIR: tmp, BROKER_SECRET: secret, EPHEMERAL_SECRET: secret });
  console.error(`test/consumers: eb-playwright under ephemeral-broker: ${ebPwEb.ms} ms`);
  // tsc is single-threaded: the three checks run side by side.
  await Promise.all(
    TSC_MODES.map(async (m) => {
      const r = await runAsync(["node", join(nm, "typescript/bin/tsc"), "-p", `tsconfig.${m}.json`], join(shared, "tsc"), {});
      console.error(`test/consumers: tsc ${m}: ${r.ms} ms`);
      tscRuns.set(m, r);
    }),
  );
}, 900_000);

async function runAsync(cmd: string[], cwd: string, env: Record<string, string>): Promise<RunResult> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { cwd, env: npmEnv(env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 300_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, ms: Math.round(performance.now() - t0) };
}

interface Result {
  id: string;
  worker: number;
  slot: number;
  fixture: { createdBy: string };
  counts: number[];
  tokens: number[];
  workers: string | undefined;
  socket: string;
}

/** Everything scenario.cjs promises, from the files its 4 runs wrote. */
function checkScenario(out: string): void {
  const results: Result[] = readdirSync(out)
    .filter((f) => f.startsWith("result-"))
    .map((f) => JSON.parse(readFileSync(join(out, f), "utf8")));
  expect(results).toHaveLength(4);
  // 4 workers, one pool slot each, the worker count known to the workers
  expect(results.map((r) => r.worker).sort()).toEqual([0, 1, 2, 3]);
  expect(results.map((r) => r.slot).sort()).toEqual([0, 1, 2, 3]);
  expect(results.map((r) => r.workers)).toEqual(["4", "4", "4", "4"]);
  // the fixture: created once, seen by all
  const created = readFileSync(join(out, "created.log"), "utf8").trimEnd().split("\n");
  expect(created).toHaveLength(1);
  for (const r of results) expect(r.fixture).toEqual({ createdBy: created[0]! });
  // the shared counter: 20 increments, each value handed out once
  expect(results.flatMap((r) => r.counts).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  // the critical section: enter/exit strictly paired, fencing tokens increasing in entry order
  const lines = readFileSync(join(out, "section.log"), "utf8").trimEnd().split("\n");
  expect(lines).toHaveLength(40);
  const order: number[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [enter, id, token] = lines[i]!.split(" ");
    expect(enter).toBe("enter");
    expect(lines[i + 1]).toBe(`exit ${id} ${token}`);
    order.push(Number(token));
  }
  for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThan(order[i - 1]!);
  expect(results.flatMap((r) => r.tokens).sort((a, b) => a - b)).toEqual(order);
  // one daemon for the run, gone after it
  expect(new Set(results.map((r) => r.socket)).size).toBe(1);
  expect(existsSync(results[0]!.socket)).toBe(false);
  expect(existsSync(join(results[0]!.socket, ".."))).toBe(false);
}

describe.skipIf(!HOST)("consumer projects", () => {
  test("publint finds no problem in the installed package", () => {
    const r = run(["node", join(ROOT, "node_modules/publint/src/cli.js"), join(shared, "node_modules/hush-broker"), "--pack", "false", "--strict"]);
    expect(r.stdout + r.stderr).toContain("All good!");
    expect(r.code).toBe(0);
  });

  test("@arethetypeswrong/cli finds no problem in the main tarball (node10, node16 CJS and ESM, bundler)", async () => {
    const r = run(["node", join(ROOT, "node_modules/@arethetypeswrong/cli/dist/index.js"), (await testRelease()).tarballs.main, "--format", "ascii"]);
    expect(r.stdout).toContain("No problems found");
    expect(r.code).toBe(0);
  }, 120_000);

  for (const c of CONSUMERS) {
    test(`${c.name}: 4 workers, one slot each, a fixture made once, a counter, a fenced critical section`, () => {
      const r = runs.get(c.name)!;
      if (r.code !== 0) console.error(`${c.name} output:\n${r.stdout}\n${r.stderr}`);
      expect(r.code).toBe(0);
      checkScenario(r.out);
    });
  }

  test("ephemeral-broker's jest tests, import line changed, pass under `npx hush run -- npx jest`", () => {
    if (ebRun.code !== 0) console.error(`ephemeral-broker output:\n${ebRun.stdout}\n${ebRun.stderr}`);
    expect(ebRun.stderr).toContain("Tests:       10 passed, 10 total");
    expect(ebRun.stderr).toContain("Test Suites: 2 passed, 2 total");
    expect(ebRun.code).toBe(0);
  });

  test("ephemeral-broker's Playwright example, import line changed, passes under `npx hush run -- npx playwright test`", () => {
    const spec = readFileSync(join(PROJECTS, "eb-playwright/tests/parallel.js"), "utf8");
    expect(spec).toContain(HUSH_IMPORT);
    if (ebPwHush.code !== 0) console.error(`eb-playwright (hush) output:\n${ebPwHush.stdout}\n${ebPwHush.stderr}`);
    expect(ebPwHush.stdout).toContain("5 passed");
    expect(ebPwHush.code).toBe(0);
  });

  test("the same Playwright file with its original import passes under ephemeral-broker's own daemon (HMAC on)", () => {
    const hush = readFileSync(join(shared, EB_PW_SPEC), "utf8").split("\n");
    const eb = readFileSync(join(shared, "eb-playwright-eb/tests/parallel.js"), "utf8").split("\n");
    expect(eb.filter((l, i) => l !== hush[i])).toEqual([EB_IMPORT]);
    if (ebPwEb.code !== 0) console.error(`eb-playwright (ephemeral-broker) output:\n${ebPwEb.stdout}\n${ebPwEb.stderr}`);
    expect(ebPwEb.stdout).toContain("5 passed");
    expect(ebPwEb.code).toBe(0);
  });

  for (const m of TSC_MODES) {
    test(`tsc --noEmit, ${m} resolution, strict + exactOptionalPropertyTypes + noUncheckedIndexedAccess, skipLibCheck off`, () => {
      const r = tscRuns.get(m)!;
      expect(r.stdout + r.stderr).toBe("");
      expect(r.code).toBe(0);
    });
  }
});
