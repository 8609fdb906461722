/**
 * Files that hush reads secrets or policy from (src/os/file-trust.ts;
 * SECURITY.md "Secure defaults"), through the compiled binary: a file that
 * another user owns or can write, or could replace through a directory, is
 * refused with the flag, the path and a hint, before the daemon serves or
 * the CLI sends anything. A daemon's secret file that every user can read
 * is refused; one only reachable by us is accepted with a warning; a CLI
 * input that others can read gets a warning.
 *
 * The cases with a file of another uid need root (to chown to nobody);
 * they are skipped, with this reason, otherwise.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

const NOBODY = 65534;
const isRoot = process.platform === "linux" && process.getuid?.() === 0;
const WHY = "needs root, to make files owned by nobody";
if (!isRoot) console.warn(`file-trust.test.ts: some tests skipped: ${WHY}`);

let base: string;
let n = 0;
beforeAll(() => {
  base = tempDir("hush-file-trust-");
  chmodSync(base, 0o755); // others may enter: a 0644 file in a 0755 directory is readable by every user
});

/** A fresh directory under base (mode `mode`) holding `name` with `text` (mode `fileMode`, owner `uid`). */
function file(text: string, opts: { mode?: number; fileMode?: number; uid?: number; dirMode?: number } = {}): string {
  const dir = join(base, `d${++n}`);
  mkdirSync(dir);
  chmodSync(dir, opts.dirMode ?? 0o700);
  const f = join(dir, "f");
  writeFileSync(f, text);
  chmodSync(f, opts.fileMode ?? 0o600);
  if (opts.uid !== undefined) chownSync(f, opts.uid, opts.uid);
  return f;
}

/** `hush serve ARGS` that must refuse to start: exit 2, `hush: error:` naming `expected`, no socket made. */
async function refusedServe(args: string[], expected: string[]) {
  const dir = tempDir("hush-ft-serve-");
  const p = Bun.spawn([HUSH, "serve", "--socket", join(dir, "run", "hush.sock"), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const t = setTimeout(() => p.kill("SIGKILL"), 10_000); // a daemon that starts is a failure, not a hang
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  clearTimeout(t);
  const r = { code, stderr };
  expect(r.code).toBe(2);
  for (const e of expected) expect(r.stderr).toContain(e);
  expect(r.stderr).toContain("hush: hint: ");
  expect(r.stderr).not.toContain("hush: ready");
  return r;
}

const CREDS = JSON.stringify({ "db/password": { value: "injected-value", allow: ["*"] } });

describe("hush serve: start-up files another user owns or can write are refused", () => {
  test.skipIf(!isRoot)("--creds-file owned by another uid, 0644, in a sticky 1777 directory (/tmp/shared)", async () => {
    const shared = join(base, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const f = join(shared, "creds.json");
    writeFileSync(f, CREDS);
    chmodSync(f, 0o644);
    chownSync(f, NOBODY, NOBODY);
    const r = await refusedServe(["--creds-file", f], [`--creds-file ${f} is owned by uid ${NOBODY} (mode 0644), not by you (uid 0) or root: its owner could have put credentials and allow-lists in it`]);
    expect(r.stderr).not.toContain("injected-value");
  });

  test.skipIf(!isRoot)("--cred NAME=file: owned by another uid", async () => {
    const f = file("injected", { uid: NOBODY });
    await refusedServe(["--cred", `db=file:${f}`], [`--cred db=file: ${f} is owned by uid ${NOBODY}`, "its owner could have chosen the credential's value"]);
  });

  test.skipIf(!isRoot)("--audit-hmac-key-file owned by another uid (a known K_audit)", async () => {
    const f = file("a-known-audit-hmac-secret", { uid: NOBODY });
    await refusedServe(["--audit-hmac-key-file", f], [`--audit-hmac-key-file ${f} is owned by uid ${NOBODY}`]);
  });

  test("a creds file writable by group or others", async () => {
    const f = file(CREDS, { fileMode: 0o666 });
    await refusedServe(["--creds-file", f], [`--creds-file ${f} is writable by group or others (mode 0666)`]);
  });

  test("a creds file in a directory others can write (no sticky bit)", async () => {
    const f = file(CREDS, { dirMode: 0o777 });
    const dir = join(f, "..");
    await refusedServe(["--creds-file", f], [`--creds-file ${f}: directory ${dir} is writable by group or others (mode 0777): they could replace the file`]);
  });

  test("secret files every user can read are refused: --creds-file, --cred file:, --server-key-file, --audit-hmac-key-file, --tls-key", async () => {
    const open = { fileMode: 0o644, dirMode: 0o755 };
    await refusedServe(["--creds-file", file(CREDS, open)], ["is readable by every user (mode 0644): it holds a secret", "chmod 600"]);
    await refusedServe(["--cred", `db=file:${file("v", open)}`], ["is readable by every user"]);
    const key = join(tempDir("hush-ft-key-"), "server.key");
    expect((await hush(["keygen", "server", "--out", key])).code).toBe(0);
    await refusedServe(["--server-key-file", file(readFileSync(key, "utf8"), open)], ["--server-key-file", "is readable by every user"]);
    await refusedServe(["--audit-hmac-key-file", file("0123456789abcdef0123", open)], ["--audit-hmac-key-file", "is readable by every user"]);
    const tls = tempDir("hush-ft-tls-");
    expect((await hush(["keygen", "tls", "--host", "127.0.0.1", "--out-cert", join(tls, "c.pem"), "--out-key", join(tls, "k.pem")])).code).toBe(0);
    const cert = file(readFileSync(join(tls, "c.pem"), "utf8"), open); // a certificate is public: fine
    await refusedServe(["--listen", "https://127.0.0.1:1", "--tls-cert", cert, "--tls-key", file(readFileSync(join(tls, "k.pem"), "utf8"), open)], ["--tls-key", "is readable by every user"]);
  });
});

describe("hush serve: accepted files", () => {
  let d: Daemon | undefined;
  afterAll(() => d?.cleanup());

  test("a 0644 creds file in a 0700 directory: accepted, with a warning", async () => {
    const f = file(CREDS, { fileMode: 0o644 });
    d = await startDaemon(["--creds-file", f]);
    expect(d.log()).toContain(`hush: warning: ${f} is readable by other users (mode 644); chmod 600 it`);
    expect((await d.cli(["creds", "list", "--json"])).stdout).toContain('"db/password"');
  });
});

describe("CLI inputs another user owns are refused before anything is sent", () => {
  // A daemon is not even needed: the refusal comes first.
  const env = { HUSH_SOCKET: "/nonexistent/hush.sock", HUSH_CREDENTIAL: undefined, HUSH_ADMIN_CREDENTIAL: undefined };

  test.skipIf(!isRoot)("--credential-file, --admin-credential-file, --token-file, --value-file, audit verify --key-file", async () => {
    const foreign = file("HUSH-WORKER-1AAAA\n", { uid: NOBODY });
    const cases: [string[], string][] = [
      [["kv", "get", "k", "--credential-file", foreign], "--credential-file"],
      [["workers", "list", "--admin-credential-file", foreign], "--admin-credential-file"],
      [["join", "--token-file", foreign], "--token-file"],
      [["creds", "put", "db/pw", "--allow", "ci", "--value-file", foreign], "--value-file"],
      [["audit", "verify", "--file", foreign, "--key-file", foreign], "--key-file"],
    ];
    for (const [argv, flag] of cases) {
      const r = await hush(argv, { env });
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toContain(`hush: error: ${flag} ${foreign} is owned by uid ${NOBODY}`);
      expect(r.stderr).toContain("hush: hint: keep the file owned by you");
    }
  });
});
