/**
 * Input is never silently dropped or changed, through dist/hush: binary
 * stdin, a flag given twice, stdin together with --value-file, a URL path
 * (targets.test.ts), a misspelt creds-file field, empty list items; and a
 * credential put again without --allow keeps its allow-list.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

let d: Daemon;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  d = await startDaemon();
  env = { HUSH_CREDENTIAL: await d.issue("kept", ["--tags", "ci"]) };
  dir = tempDir();
});
afterAll(() => d.cleanup());

const stored = async (key: string) => d.cli(["kv", "get", key, "--json"], { env });

describe("values", () => {
  test("bytes that are not UTF-8 are refused with a hint (they were stored as U+FFFD), from stdin and --value-file", async () => {
    const bin = new Uint8Array([0xff, 0xfe, 0x00]);
    const r = await d.cli(["kv", "set", "bin", "--ttl", "1m"], { env, stdin: bin });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the value is not UTF-8 text (stdin)");
    expect(r.stderr).toContain("base64");
    expect((await stored("bin")).code).toBe(3);
    const f = join(dir, "bin");
    writeFileSync(f, bin, { mode: 0o600 });
    const c = await d.cli(["creds", "put", "bin", "--value-file", f, "--allow", "ci"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain(`the value is not UTF-8 text (--value-file ${f})`);
    // Text outside ASCII is fine.
    expect((await d.cli(["kv", "set", "utf8", "--ttl", "1m"], { env, stdin: "grüße ✓" })).code).toBe(0);
    expect(JSON.parse((await stored("utf8")).stdout).value).toBe("grüße ✓");
  });

  test("a value piped in while --value-file names another is refused; nothing is stored", async () => {
    const f = join(dir, "v.txt");
    writeFileSync(f, "from-file", { mode: 0o600 });
    const r = await d.cli(["kv", "set", "both", "--ttl", "1m", "--value-file", f], { env, stdin: "from-stdin" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`a value came on stdin as well as from --value-file ${f}`);
    expect((await stored("both")).code).toBe(3);
    // An empty stdin (a closed pipe, /dev/null) is no conflict.
    expect((await d.cli(["kv", "set", "both", "--ttl", "1m", "--value-file", f], { env, stdin: "" })).code).toBe(0);
    expect((await d.cli(["kv", "set", "both2", "--ttl", "1m", "--value-file", f], { env })).code).toBe(0);
  });
});

describe("flags", () => {
  test("a single-valued flag given twice is refused (the last one used to win); a flag and its --no- form contradict", async () => {
    const r = await d.cli(["kv", "set", "twice", "--ttl", "1m", "--ttl", "1h"], { env, stdin: "v" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--ttl is given twice");
    expect((await stored("twice")).code).toBe(3);
    const n = await d.cli(["workers", "issue", "--name", "a", "--name=b"]);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain("--name is given twice");
    const b = await hush(["run", "--mlock", "--no-mlock", "--", "true"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("--mlock and --no-mlock contradict each other");
    // Repeatable flags stay repeatable; a boolean given twice the same way is harmless.
    expect((await d.cli(["kv", "list", "--json", "--json"], { env })).code).toBe(0);
  });

  test("empty items in a list are refused: --tags ',,', --allow '', --cred-allow NAME=", async () => {
    for (const argv of [["workers", "issue", "--name", "e", "--tags", ",,"], ["token", "create", "--tags", "ci,,linux"], ["keygen", "tls", "--host", "a,"]]) {
      const r = await d.cli(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toMatch(/has an empty item|is empty/);
    }
    const a = await d.cli(["creds", "put", "empty-allow", "--allow", ""], { stdin: "v" });
    expect(a.code).toBe(2);
    expect(a.stderr).toContain("--allow is empty");
    expect(a.stderr).toContain("--allow-none");
    const s = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--cred", "x=env:PATH", "--cred-allow", "x="]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("--cred-allow x= has no tags");
  });

  test("--by and the rates: the message says what is allowed (negatives for --by, 0 for rates)", async () => {
    for (const v of ["2.5", "9007199254740993"]) {
      const r = await d.cli(["kv", "incr", "n", "--by", v, "--ttl", "1m"], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--by: expected a whole number (negative allowed)");
    }
    expect((await d.cli(["kv", "incr", "n", "--by", "-3", "--ttl", "1m"], { env })).stdout).toBe("-3\n");
    const k = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--key-rate", "-1"]);
    expect(k.code).toBe(2);
    expect(k.stderr).toContain("--key-rate: expected 0 (unlimited) or a positive integer");
  });
});

describe("creds files and allow-lists", () => {
  test("a misspelt field in a JSON creds file is refused, naming it (it used to be dropped, leaving default deny)", async () => {
    const f = join(dir, "creds.json");
    writeFileSync(f, JSON.stringify({ "db/pw": { value: "s3cret", alow: ["ci"] } }), { mode: 0o600 });
    const r = await hush(["serve", "--socket", join(tempDir(), "s", "hush.sock"), "--creds-file", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}: db/pw: unknown field "alow" (an entry has value, values, allow, mode)`);
    expect(r.stderr).not.toContain("s3cret");
  });

  test("putting a credential again without --allow keeps its allow-list; --allow-none clears it", async () => {
    expect((await d.cli(["creds", "put", "db/pw", "--allow", "ci"], { stdin: "v1" })).code).toBe(0);
    const again = await d.cli(["creds", "put", "db/pw"], { stdin: "v2" });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("allow [ci]");
    expect(again.stderr).toContain("kept the allow-list of version 1");
    expect(again.stderr).not.toContain("warning");
    const co = await d.cli(["checkout", "db/pw"], { env });
    expect(co.stdout).toBe("v2\n"); // the worker was not cut off by the new value
    const none = await d.cli(["creds", "put", "db/pw", "--allow-none", "--json"], { stdin: "v3" });
    expect(JSON.parse(none.stdout).allow).toEqual([]);
    expect((await d.cli(["checkout", "db/pw"], { env })).code).toBe(5);
    const fresh = await d.cli(["creds", "put", "db/new"], { stdin: "n" });
    expect(fresh.stderr).toContain("warning: no worker may check it out (default deny)");
  });
});
