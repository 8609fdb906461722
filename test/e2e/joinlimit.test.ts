/**
 * Join rate limits by source through the compiled binary, with real source
 * addresses: the daemon listens in a private network namespace whose
 * loopback holds many IPv6 and IPv4 addresses, and curl sends each join
 * from a chosen one (`--interface`). One IPv6 /64 is one source, one IPv4
 * /24 or IPv6 /48 is one network, and no source or network can take the
 * whole global budget, so a flood from many addresses of one network
 * leaves room for everyone else. Needs root and iproute2 (network
 * namespaces); elsewhere the test says why and skips.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HUSH, tempDir, waitFor } from "./_harness.ts";

const NS = `hush-jl-${process.pid}`;
const sh = (cmd: string[]) => Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
const canNetns = process.getuid?.() === 0 && !!Bun.which("ip") && !!Bun.which("curl") && sh(["ip", "netns", "add", NS]);
let daemon: ReturnType<typeof Bun.spawn> | undefined;
let log = "";

const v6 = (net: string, i: number) => `${net}::${(0x100 + i).toString(16)}`;
const FLOOD6 = Array.from({ length: 12 }, (_, i) => v6("fd00:1:0:1", i)); // one /64
const OTHER6 = "fd00:2::7"; // another /48
const FLOOD4 = Array.from({ length: 12 }, (_, i) => `127.0.0.${10 + i}`); // one /24, twelve addresses
const OTHER4 = "127.0.1.5";

beforeAll(async () => {
  if (!canNetns) {
    console.log("joinlimit: SKIP: needs root, iproute2 and curl to make a network namespace with many source addresses");
    return;
  }
  sh(["ip", "-n", NS, "link", "set", "lo", "up"]);
  for (const a of ["fd00:9::1", ...FLOOD6, OTHER6]) sh(["ip", "-n", NS, "addr", "add", `${a}/128`, "dev", "lo", "nodad"]);
  const dir = tempDir();
  // Global budget: 2 per second, bursts of 4 (far below the per-source burst of 40).
  daemon = Bun.spawn(["ip", "netns", "exec", NS, HUSH, "serve", "--socket", join(dir, "s", "hush.sock"), "--listen", "https://[::]:8443", "--join-rate", "2", "--no-mlock"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  (async () => {
    for await (const c of daemon!.stderr as any) log += new TextDecoder().decode(c);
  })();
  await waitFor(() => log.includes("hush: ready"), 15_000, "daemon in the namespace");
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  if (canNetns) sh(["ip", "netns", "del", NS]);
});

/** One POST /v1/join (an empty body: 400 once past the limiter, 429 when limited) from `from`. */
async function joinFrom(from: string): Promise<number> {
  const host = from.includes(":") ? "[fd00:9::1]" : "127.0.0.1";
  const p = Bun.spawn(["ip", "netns", "exec", NS, "curl", "-sk", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "--interface", from, "-X", "POST", "-d", "{}", `https://${host}:8443/v1/join`], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  return Number(out);
}

test.skipIf(!canNetns)("one IPv6 /64 is one source: twelve of its addresses do not drain the global budget for another network", async () => {
  const t0 = performance.now();
  const flood = await Promise.all(FLOOD6.map(joinFrom));
  const elapsedS = (performance.now() - t0) / 1000;
  const other = await joinFrom(OTHER6);
  expect(flood.every((s) => s === 400 || s === 429)).toBe(true);
  expect(other).toBe(400);
  // Its share of the global burst (4): at most 2, plus what the network bucket (1/s here) refilled meanwhile.
  expect(flood.filter((s) => s === 400).length).toBeLessThanOrEqual(2 + Math.floor(elapsedS));
  expect(flood.filter((s) => s === 429).length).toBeGreaterThan(0);
});

test.skipIf(!canNetns)("IPv4 is limited per address and per /24: a flood from one /24 leaves room for another", async () => {
  await Bun.sleep(2100); // the global bucket refills
  const t0 = performance.now();
  const flood = await Promise.all(FLOOD4.map(joinFrom));
  const elapsedS = (performance.now() - t0) / 1000;
  const other = await joinFrom(OTHER4);
  expect(flood.every((s) => s === 400 || s === 429)).toBe(true);
  expect(other).toBe(400);
  // Its share of the global burst (4): at most 2, plus what the network bucket (1/s here) refilled meanwhile.
  expect(flood.filter((s) => s === 400).length).toBeLessThanOrEqual(2 + Math.floor(elapsedS));
  expect(flood.filter((s) => s === 429).length).toBeGreaterThan(0);
  // The refusals are counted and audited per join; the daemon is still up.
  expect(daemon!.exitCode).toBeNull();
});
