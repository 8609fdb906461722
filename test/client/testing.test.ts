/**
 * The SDK's test-runner helpers against the compiled binary (dist/hush):
 * startDaemon (socket and credential over a pipe, wiped on stop() and when
 * the caller dies without calling it), the global setup/teardown's
 * environment, worker indexes and findBinary's errors. (Client.withLock and
 * getOrSet under contention: semantics.test.ts, e2e/sdk-node.test.ts.)
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Client, isHushError, leaseWorkerSlot, startDaemon, workerIndex } from "../../src/client/index.ts";
import { findBinary } from "../../src/client/binary.ts";
import { runnerWorkers, setupRun, teardownRun } from "../../src/client/runner.ts";
import { HushError } from "../../src/errors.ts";
import { HUSH, tempDir, waitFor } from "../e2e/_harness.ts";
import { readLine } from "../_npm.ts";

const SDK = resolve(import.meta.dir, "../../dist/sdk/index.mjs");

describe("startDaemon", () => {
  test("returns a socket and a credential that work; stop() wipes the run", async () => {
    const d = await startDaemon({ binary: HUSH, name: "helper" });
    try {
      expect(d.credential).toStartWith("HUSH-WORKER-1");
      expect(d.env).toEqual({ HUSH_SOCKET: d.socket, HUSH_CREDENTIAL: d.credential });
      const c = new Client({ socket: d.socket, credential: d.credential, autoRekey: false });
      expect((await c.whoami()).name).toBe("helper");
      expect(await c.incr("n", 1, { ttlMs: 60_000 })).toBe(1);
      c.close();
    } finally {
      await d.stop();
    }
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(join(d.socket, ".."))).toBe(false);
    await d.stop(); // idempotent
  });

  test("a caller that dies without stop() leaves nothing behind: the keeper's pipe closes", async () => {
    const dir = tempDir();
    const script = join(dir, "caller.mjs");
    writeFileSync(script, `import { startDaemon } from ${JSON.stringify(pathToFileURL(SDK).href)};\nconst d = await startDaemon({ binary: ${JSON.stringify(HUSH)} });\nconsole.log(d.socket);\nsetInterval(() => {}, 1000);\n`);
    const p = Bun.spawn(["node", script], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const socket = (await readLine(p.stdout)).trim();
    expect(existsSync(socket)).toBe(true);
    p.kill("SIGKILL");
    await p.exited;
    await waitFor(() => !existsSync(join(socket, "..")), 10_000, "the run directory to go away");
  });

  test("a missing binary is an `unavailable` error that says why", async () => {
    const e = await startDaemon({ binary: join(tempDir(), "no-such-hush") }).catch((x) => x);
    expect(isHushError(e)).toBe(true);
    expect(e.code).toBe("unavailable");
    expect(e.message).toContain("ENOENT");
  });
});

describe("global setup and teardown", () => {
  test("publish the daemon in the environment, record the worker count, restore everything after", async () => {
    const before = { s: process.env.HUSH_SOCKET, c: process.env.HUSH_CREDENTIAL };
    delete process.env.HUSH_SOCKET;
    delete process.env.HUSH_CREDENTIAL;
    process.env.HUSH_BINARY_PATH = HUSH;
    try {
      const teardown = await setupRun({ maxWorkers: 3 });
      const socket = process.env.HUSH_SOCKET!;
      expect(process.env.HUSH_TEST_WORKERS).toBe("3");
      expect(await setupRun().catch((e) => e.code)).toBe("conflict");
      const c = Client.fromEnv();
      const slots = await Promise.all([0, 1, 2].map((index) => leaseWorkerSlot(c, { index })));
      expect(slots.map((l) => l.slot).sort()).toEqual([0, 1, 2]);
      expect((await leaseWorkerSlot(c, { index: 1 })).slot).toBe(slots[1]!.slot); // same worker, same slot
      expect(await leaseWorkerSlot(c, { index: 3 }).catch((e) => e.code)).toBe("conflict"); // 3 workers, 3 slots
      c.close();
      await teardown();
      expect(process.env.HUSH_SOCKET).toBeUndefined();
      expect(process.env.HUSH_TEST_WORKERS).toBeUndefined();
      expect(existsSync(socket)).toBe(false);
      await teardownRun(); // nothing left to stop
    } finally {
      delete process.env.HUSH_BINARY_PATH;
      if (before.s !== undefined) process.env.HUSH_SOCKET = before.s;
      if (before.c !== undefined) process.env.HUSH_CREDENTIAL = before.c;
    }
  });

  test("under `hush run`, the global setup uses that daemon and starts none", async () => {
    const saved = { ...process.env };
    process.env.HUSH_SOCKET = "/nonexistent/hush.sock";
    process.env.HUSH_CREDENTIAL = "HUSH-WORKER-1-from-hush-run";
    process.env.HUSH_BINARY_PATH = "/nonexistent/hush"; // would fail if it tried to start one
    try {
      const teardown = await setupRun({ workers: 2 });
      expect(process.env.HUSH_SOCKET).toBe("/nonexistent/hush.sock");
      expect(process.env.HUSH_TEST_WORKERS).toBe("2");
      await teardown();
      expect(process.env.HUSH_CREDENTIAL).toBe("HUSH-WORKER-1-from-hush-run");
      expect(process.env.HUSH_TEST_WORKERS).toBeUndefined();
    } finally {
      for (const k of ["HUSH_SOCKET", "HUSH_CREDENTIAL", "HUSH_BINARY_PATH"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test("worker index and count from each runner's variables", () => {
    expect(workerIndex({ VITEST_POOL_ID: "3" })).toBe(2);
    expect(workerIndex({ JEST_WORKER_ID: "1" })).toBe(0);
    expect(workerIndex({ TEST_PARALLEL_INDEX: "0" })).toBe(0);
    expect(() => workerIndex({})).toThrow("not in a vitest, jest or Playwright worker");
    expect(() => workerIndex({ JEST_WORKER_ID: "x" })).toThrow(HushError);
    expect(runnerWorkers({ maxWorkers: 4 })).toBe(4); // jest globalConfig
    expect(runnerWorkers({ workers: 2 })).toBe(2); // Playwright FullConfig
    expect(runnerWorkers({ config: { maxWorkers: 8 } })).toBe(8); // vitest TestProject
    expect(runnerWorkers(undefined)).toBeUndefined();
    expect(runnerWorkers({ maxWorkers: "50%" })).toBeUndefined();
  });
});

describe("findBinary", () => {
  test("HUSH_BINARY_PATH wins, and must name a file", () => {
    expect(findBinary({ env: { HUSH_BINARY_PATH: HUSH } })).toBe(HUSH);
    expect(() => findBinary({ env: { HUSH_BINARY_PATH: "/nonexistent/hush" } })).toThrow("HUSH_BINARY_PATH is /nonexistent/hush, which is not a file");
  });

  test("the platform package next to the SDK, then a checkout's dist/hush, else an error naming the package", () => {
    const sdkIn = (root: string) => {
      const from = join(root, "node_modules", "hush-broker", "dist", "sdk", "index.mjs");
      mkdirSync(join(from, ".."), { recursive: true });
      return from;
    };
    const e = (() => {
      try {
        findBinary({ env: {}, platform: "linux-arm64", from: sdkIn(tempDir()) });
      } catch (x) {
        return x as HushError;
      }
    })()!;
    expect(e.code).toBe("unavailable");
    expect(e.message).toBe("the hush binary for linux-arm64 is missing: the npm package hush-broker-linux-arm64 is not installed");
    expect(e.detail.package).toBe("hush-broker-linux-arm64");
    const root = tempDir();
    const from = sdkIn(root);
    const pkg = join(root, "node_modules", "hush-broker-linux-arm64");
    mkdirSync(join(pkg, "bin"), { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "hush-broker-linux-arm64", version: "0.1.0" }));
    writeFileSync(join(pkg, "bin", "hush"), "");
    expect(findBinary({ env: {}, platform: "linux-arm64", from })).toBe(join(pkg, "bin", "hush"));
    // a source checkout: dist/hush two levels above the SDK file
    const co = tempDir();
    mkdirSync(join(co, "dist", "sdk"), { recursive: true });
    writeFileSync(join(co, "dist", "hush"), "");
    expect(findBinary({ env: {}, platform: "linux-x64", from: join(co, "dist", "sdk", "launcher.cjs") })).toBe(join(co, "dist", "hush"));
    expect(() => findBinary({ env: {}, platform: undefined })).toThrow(`hush has no binary for ${process.platform}-${process.arch}`);
  });
});
