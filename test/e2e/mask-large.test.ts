/**
 * Issue 10, item 1: a large credential value must not break the log masker.
 * A value of about 100 KB or more used to make the masker's one-regex
 * pattern too large for the engine: the put answered 500 after storing the
 * value, no audit line was written from then on, an unauthenticated request
 * got 500 instead of 401, SIGTERM no longer stopped the daemon, and the same
 * value in `--creds-file` stopped `serve` from starting. Driven through the
 * compiled binary.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rawRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

const started: Daemon[] = [];
afterAll(() => started.forEach((d) => d.cleanup()));

/** ~200 KB: 2 000 lines of 100 random base64 characters (short enough for a line to be a credential name). */
function bigValue(): { value: string; lines: string[] } {
  const lines = Array.from({ length: 2000 }, () => Buffer.from(crypto.getRandomValues(new Uint8Array(75))).toString("base64"));
  return { value: lines.join("\n"), lines };
}

/** SIGTERM, then the exit code, or "hung" when the daemon is still running after `ms`. */
async function stopWithin(d: Daemon, ms = 15_000): Promise<number | "hung"> {
  const hung = new Promise<"hung">((r) => setTimeout(() => r("hung"), ms));
  return await Promise.race([d.stop("SIGTERM"), hung]);
}

function auditLines(file: string): any[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

test("a 200 KB credential value: put and audited, checked out and audited, masked in logs; 401 and SIGTERM still work", async () => {
  const dir = tempDir();
  const audit = join(dir, "audit.jsonl");
  const d = await startDaemon(["--audit-file", audit]);
  started.push(d);
  const { value, lines } = bigValue();
  expect(value.length).toBeGreaterThan(200_000);

  const put = await d.cli(["creds", "put", "big", "--allow", "ci"], { stdin: value + "\n" });
  expect(put.stderr).toContain("stored big");
  expect(put.code).toBe(0);
  await waitFor(() => auditLines(audit).some((l) => l.action === "cred.put" && l.target === "big" && l.result === "ok"), 5000, "the cred.put audit line");

  // The admin path after it still works, and logs are still written.
  const cred = await d.issue("big-reader", ["--tags", "ci"]);
  const out = await d.cli(["checkout", "big"], { env: { HUSH_CREDENTIAL: cred } });
  expect(out.code).toBe(0);
  expect(out.stdout).toBe(value + "\n");
  await waitFor(() => auditLines(audit).some((l) => l.action === "cred.checkout" && l.target === "big" && l.result === "ok"), 5000, "the cred.checkout audit line");

  // Masked in logs: credential names are logged and audited, so name two more
  // credentials after pieces of the value (a raw line, another URL-encoded).
  const other = lines.find((l, i) => i > 7 && /[+/]/.test(l))!; // one that URL-encoding changes
  const encoded = encodeURIComponent(other);
  for (const name of [lines[7], encoded]) {
    const r = await d.cli(["creds", "put", name, "--allow", "ci"], { stdin: "other\n" });
    expect(r.code).toBe(0);
  }
  await waitFor(() => d.log().split("credential stored").length > 3, 5000, "three 'credential stored' log lines");
  await waitFor(() => auditLines(audit).filter((l) => l.action === "cred.put").length >= 3, 5000, "three cred.put audit lines");
  for (const where of [d.log(), readFileSync(audit, "utf8")]) {
    expect(where).not.toContain(lines[7]);
    expect(where).not.toContain(other);
    expect(where).not.toContain(encoded);
  }
  expect(auditLines(audit).filter((l) => l.action === "cred.put" && l.target === "***").length).toBe(2);

  // An unauthenticated request is refused as such, not with a 500.
  const r = await rawRequest(d.socket, "GET", "/v1/kv");
  expect(r.status).toBe(401);
  expect(await stopWithin(d)).toBe(0);
}, 60_000);

test("the same 200 KB value in --creds-file: serve starts, the value checks out, SIGTERM stops it", async () => {
  const dir = tempDir();
  const { value } = bigValue();
  const file = join(dir, "creds.json");
  writeFileSync(file, JSON.stringify({ big: { value, allow: ["ci"] } }), { mode: 0o600 });
  const d = await startDaemon(["--creds-file", file]);
  started.push(d);
  const cred = await d.issue("big-reader", ["--tags", "ci"]);
  const out = await d.cli(["checkout", "big"], { env: { HUSH_CREDENTIAL: cred } });
  expect(out.stdout).toBe(value + "\n");
  expect(await stopWithin(d)).toBe(0);
}, 60_000);
