/**
 * Many hosts: a controller and a worker in separate network namespaces
 * joined by a veth pair (iproute2). The worker joins over pinned TLS with
 * nothing but the binary and a token file, checks a credential out, and a
 * worker given a wrong pin refuses to talk. Where namespaces cannot be
 * created (not root, no iproute2, no CAP_NET_ADMIN), the same flow runs on
 * loopback and the test says so.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HUSH, hush, tempDir, waitFor } from "./_harness.ts";

const id = Math.floor(Math.random() * 200) + 20;
const A = `hush-ctl-${id}`;
const B = `hush-wrk-${id}`;
const CTL_IP = `10.77.${id}.1`;
const WRK_IP = `10.77.${id}.2`;
let mode: "netns" | "loopback" = "loopback";
let dir: string;
let daemon: ReturnType<typeof Bun.spawn> | undefined;
let log = "";

function sh(cmd: string[]): boolean {
  return Bun.spawnSync(cmd, { stderr: "pipe", stdout: "pipe" }).exitCode === 0;
}

/** Run in the worker's namespace (or directly, on loopback). */
function inWorker(args: string[]): string[] {
  return mode === "netns" ? ["ip", "netns", "exec", B, ...args] : args;
}

beforeAll(async () => {
  dir = tempDir();
  if (process.getuid?.() === 0 && Bun.which("ip") && sh(["ip", "netns", "add", A])) {
    const ok =
      sh(["ip", "netns", "add", B]) &&
      sh(["ip", "link", "add", `vha${id}`, "type", "veth", "peer", "name", `vhb${id}`]) &&
      sh(["ip", "link", "set", `vha${id}`, "netns", A]) &&
      sh(["ip", "link", "set", `vhb${id}`, "netns", B]) &&
      sh(["ip", "-n", A, "addr", "add", `${CTL_IP}/24`, "dev", `vha${id}`]) &&
      sh(["ip", "-n", B, "addr", "add", `${WRK_IP}/24`, "dev", `vhb${id}`]) &&
      sh(["ip", "-n", A, "link", "set", `vha${id}`, "up"]) &&
      sh(["ip", "-n", B, "link", "set", `vhb${id}`, "up"]) &&
      sh(["ip", "-n", A, "link", "set", "lo", "up"]) &&
      sh(["ip", "-n", B, "link", "set", "lo", "up"]);
    if (ok) mode = "netns";
  }
  if (mode === "loopback") console.log("netns: network namespaces unavailable here (needs root and iproute2); running the same flow on loopback");
  else console.log(`netns: controller in ${A} (${CTL_IP}), worker in ${B} (${WRK_IP}), joined by a veth pair`);
  const host = mode === "netns" ? CTL_IP : "127.0.0.1";
  const serve = [HUSH, "serve", "--socket", join(dir, "s", "hush.sock"), "--listen", `https://${host}:8443`];
  daemon = Bun.spawn(mode === "netns" ? ["ip", "netns", "exec", A, ...serve] : serve, { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  (async () => {
    for await (const c of daemon!.stderr as any) log += new TextDecoder().decode(c);
  })();
  await waitFor(() => log.includes("hush: ready"), 10_000, "controller");
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await daemon?.exited;
  if (mode === "netns") {
    sh(["ip", "netns", "del", A]);
    sh(["ip", "netns", "del", B]);
  }
});

test("a worker in another namespace joins over pinned TLS and checks a credential out; a wrong pin refuses", async () => {
  const url = `https://${mode === "netns" ? CTL_IP : "127.0.0.1"}:8443`;
  const admin = (args: string[], stdin?: string) => hush(args, { env: { HUSH_SOCKET: join(dir, "s", "hush.sock") }, stdin });
  const tok = join(dir, "join.token");
  expect((await admin(["token", "create", "--tags", "edge", "--uses", "2", "--out", tok])).code).toBe(0);
  expect((await admin(["creds", "put", "router/enable", "--allow", "edge"], "en4ble-s3cret\n")).code).toBe(0);

  if (mode === "netns") {
    // The worker's namespace cannot see the controller's loopback: only the veth link.
    expect(Bun.spawnSync(["ip", "netns", "exec", B, "curl", "-sk", "--max-time", "2", "https://127.0.0.1:8443/v1/health"]).exitCode).not.toBe(0);
  }
  const cred = join(dir, "w.cred");
  const j = Bun.spawnSync(inWorker([HUSH, "join", "--url", url, "--token-file", tok, "--name", "edge-1", "--out", cred]), { env: { PATH: process.env.PATH! } });
  expect(j.stderr.toString()).toContain("joined as w_");
  expect(j.exitCode).toBe(0);
  const co = Bun.spawnSync(
    inWorker([HUSH, "checkout", "router/enable", "--url", url, "--credential-file", cred, "--env", "SECRET", "--", "sh", "-c", 'printf %s "$SECRET"']),
    { env: { PATH: process.env.PATH! } },
  );
  expect(co.exitCode).toBe(0);
  expect(co.stdout.toString()).toBe("en4ble-s3cret");

  const wrong = "sha256//" + "C".repeat(42) + "A=";
  const bad = Bun.spawnSync(inWorker([HUSH, "join", "--url", url, "--token-file", tok, "--tls-pin", wrong]), { env: { PATH: process.env.PATH! } });
  expect(bad.exitCode).toBe(5);
  expect(bad.stderr.toString()).toContain("TLS pin mismatch");
  expect(log).not.toContain("en4ble-s3cret");
});
