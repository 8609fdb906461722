/**
 * The masker must not confirm guesses (SECURITY.md, "Information
 * disclosure"): it writes a logged string that equals a form of a secret as
 * `***`, so a client-chosen string that reaches the log or the audit file
 * would tell whoever can send requests and read the log whether a guessed
 * credential value is right. An unauthenticated client chooses two such
 * strings: `X-Request-Id` (it was the corr_id) and the key id of its
 * Authorization header. Through the compiled binary, a right guess and a
 * wrong one must leave log and audit lines that differ only in their
 * daemon-made corr_id and time, and the answer carries the daemon's corr_id.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rawRequest, startDaemon, tempDir, waitFor, type Daemon } from "./_harness.ts";

// A credential value that fits both an X-Request-Id and a key id (16 b64url characters).
const SECRET = "Pw_" + crypto.randomUUID().replace(/-/g, "").slice(0, 13);
const WRONG = "Pw_" + "x".repeat(13);

/**
 * One daemon per trace: failures of one kind from one source are written at
 * once only the first time in a window (then summarized, PROTOCOL.md §9.5),
 * so a right and a wrong guess are each the first failure of a fresh daemon.
 */
async function withDaemon<T>(fn: (d: Daemon, audit: string) => Promise<T>): Promise<T> {
  const dir = tempDir("hush-oracle-");
  const audit = join(dir, "audit.jsonl");
  process.env.HUSH_TEST_ORACLE = SECRET;
  let d: Daemon;
  try {
    d = await startDaemon(["--audit-file", audit, "--cred", "db=env:HUSH_TEST_ORACLE", "--cred-allow", "db=ci"], { dir });
  } finally {
    delete process.env.HUSH_TEST_ORACLE;
  }
  try {
    return await fn(d, audit);
  } finally {
    await d.cleanup();
  }
}

const auth = (keyId: string) =>
  `HUSH1-HMAC-SHA256 Credential=${keyId}, Timestamp=${Date.now()}, Nonce=${"A".repeat(22)}, Signature=${"A".repeat(43)}`;

/** The log lines written for one request (matched by its corr_id), with ts and corr_id blanked. */
async function traces(headers: Record<string, string>) {
  return withDaemon(async (d, audit) => {
    const r = await rawRequest(d.socket, "GET", "/v1/kv/x", { headers });
    expect(r.status).toBe(401);
    const corr = r.headers.get("x-request-id")!;
    expect(r.json.corr_id).toBe(corr);
    const written = () => d.log().split("\n").filter((l) => l.includes(corr));
    await waitFor(() => written().length > 0, 5_000, "the log line");
    expectCleanAudit(audit);
    return { corr, lines: written().map((l) => l.replaceAll(corr, "CORR").replace(/"ts":"[^"]+"/, '"ts":0')) };
  });
}

/** The audit file holds no client-chosen text and no mask (an identical repeat is only counted, §9.5). */
function expectCleanAudit(audit: string) {
  const text = readFileSync(audit, "utf8");
  expect(text).toContain('"action":"auth"');
  expect(text).not.toContain("***");
  expect(text).not.toContain("Pw_");
}

test("X-Request-Id: never the corr_id, never logged; a right guess looks like a wrong one", async () => {
  const right = await traces({ "x-request-id": SECRET, authorization: "nonsense" });
  const wrong = await traces({ "x-request-id": WRONG, authorization: "nonsense" });
  for (const t of [right, wrong]) {
    expect(t.corr).not.toContain("Pw_");
    expect(t.lines.join("\n")).not.toContain("***");
    expect(t.lines.join("\n")).not.toContain("Pw_");
  }
  expect(right.lines).toEqual(wrong.lines);
});

test("the key id of an unknown key is not logged; a right guess looks like a wrong one", async () => {
  const right = await traces({ authorization: auth("w_" + SECRET) });
  const wrong = await traces({ authorization: auth("w_" + WRONG) });
  for (const t of [right, wrong]) {
    expect(t.lines.join("\n")).not.toContain("***");
    expect(t.lines.join("\n")).not.toContain("Pw_");
  }
  expect(right.lines).toEqual(wrong.lines);
});
