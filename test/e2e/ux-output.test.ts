/**
 * The CLI as a new user meets it, part 2: output. Help pages with a `hush`
 * usage line and examples for every command, colour only on a terminal,
 * one error line for an unknown command, JSON errors with --json, shell
 * completion, bench progress on a terminal, and a --url whose scheme does not
 * match its port. Everything through dist/hush; a terminal is made with
 * util-linux `script`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { HUSH, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";

const SCRIPT = Bun.which("script");
if (!SCRIPT) console.warn("SKIP terminal tests: util-linux `script` is not installed (it provides the pseudo-terminal)");

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run hush with stdout and stderr on a pseudo-terminal; returns what the terminal showed. */
function onTerminal(args: string[], env: Record<string, string | undefined> = {}): string {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, TERM: "xterm", NO_COLOR: undefined, FORCE_COLOR: undefined, ...env })) if (v !== undefined) e[k] = v;
  const r = Bun.spawnSync([SCRIPT!, "-qec", [HUSH, ...args].map(q).join(" "), "/dev/null"], { env: e, stdin: "ignore", stdout: "pipe" });
  return r.stdout.toString();
}

/** Every command and its help page, found by following the help pages' COMMANDS sections. */
let pagesOnce: ReturnType<typeof helpPages> | undefined;
const allPages = () => (pagesOnce ??= helpPages());
async function helpPages(path: string[] = []): Promise<{ p: string[]; r: Awaited<ReturnType<typeof hush>> }[]> {
  const r = await hush([...path, "--help"]);
  const cmds = /\nCOMMANDS\n([\s\S]*?)\n\n/.exec(r.stdout);
  if (!cmds) return [{ p: path, r }];
  const subs = await Promise.all(cmds[1].split("\n").map((l) => helpPages([...path, l.trim().split(/\s+/)[0]])));
  return [{ p: path, r }, ...subs.flat()];
}

let d: Daemon;
let env: Record<string, string>;
beforeAll(async () => {
  d = await startDaemon();
  env = { HUSH_CREDENTIAL: await d.issue("ux-output") };
});
afterAll(() => d.cleanup());

describe("help", () => {
  test("every command's --help has a usage line that starts with hush, and examples of that command", async () => {
    const pages = await allPages();
    expect(pages.length).toBeGreaterThan(45);
    for (const { p, r } of pages) {
      const name = ["hush", ...p].join(" ");
      expect({ name, code: r.code }).toEqual({ name, code: 0 });
      const usage = /\nUSAGE\n((?: {2}.*\n)+)/.exec(r.stdout)?.[1] ?? "";
      expect({ name, usage: usage.split("\n").every((l) => !l || l.startsWith(`  ${name}`)) && usage.length > 0 }).toEqual({ name, usage: true });
      const examples = /\nEXAMPLES\n((?: {2}.*\n)+)/.exec(r.stdout)?.[1] ?? "";
      expect({ name, example: examples.includes(name) }).toEqual({ name, example: true });
    }
  }, 60_000);

  test("one extra argument, for every command: exit 2 with an error and a hint, nothing on stdout, nothing run", async () => {
    // Leaves, with the number of arguments their USAGE line takes.
    const leaves = (await allPages())
      .filter(({ r }) => !r.stdout.includes("\nCOMMANDS\n"))
      .map(({ p, r }) => {
        const usage = r.stdout.split("\n").find((l) => l.startsWith(`  hush ${p.join(" ")}`))!;
        return { path: p, variadic: usage.includes(">..."), args: (usage.split(" -- ")[0].match(/<[A-Z]+>|\[[A-Z]+\]/g) ?? []).filter((a) => a !== "[OPTIONS]").length };
      });
    // `<FILE>...` takes any number: only these commands.
    expect(leaves.filter((l) => l.variadic).map((l) => l.path.join(" "))).toEqual(["audit verify"]);
    leaves.splice(0, leaves.length, ...leaves.filter((l) => !l.variadic));
    expect(leaves.length).toBeGreaterThan(35);
    const runs = await Promise.all(
      leaves.map(async ({ path, args }) => {
        const argv = [...path, ...Array.from({ length: args }, (_, i) => `arg${i}`), "extra-word"];
        return { argv, r: await d.cli(argv, { env }) };
      }),
    );
    for (const { argv, r } of runs) {
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^hush: error: (too many arguments|values are read|hush \S+ takes (only|no))/);
      expect(r.stderr).toContain("hush: hint: ");
      expect(r.stderr).not.toContain("extra-word");
    }
    expect((await d.cli(["kv", "get", "arg0"], { env })).code).toBe(3); // kv set stored nothing
  }, 60_000);

  test("run, join and checkout show the -- CMD form", async () => {
    for (const c of ["run", "join", "checkout"]) {
      const h = (await hush([c, "--help"])).stdout;
      expect(h).toMatch(new RegExp(`\\n  hush ${c} \\[OPTIONS\\] (<NAME> )?-- CMD \\[ARGS…\\]\\n`));
    }
  });

  test("lock and pool TTL help: required, never 'unless --no-ttl-required'; lock renew's --ttl is optional", async () => {
    for (const c of [["lock", "acquire"], ["pool", "lease"]]) {
      const h = (await hush([...c, "--help"])).stdout;
      expect(h).not.toContain("--no-ttl-required");
      expect(h).toMatch(/--ttl DURATION +time to live.*\(required\)/);
    }
    const renew = (await hush(["lock", "renew", "--help"])).stdout;
    expect(renew).not.toContain("--no-ttl-required");
    expect(renew).toMatch(/--ttl DURATION +new time to live.*default: the TTL the lock was acquired with/);
    expect(renew.split("\n").find((l) => l.includes("--ttl DURATION"))).not.toContain("(required)");
    expect((await hush(["kv", "set", "--help"])).stdout).toContain("--no-ttl-required");
  });

  test("an unknown command: one error line and a hint on stderr, with a did-you-mean", async () => {
    const a = await hush(["serv"]);
    expect(a).toMatchObject({ code: 2, stdout: "" });
    expect(a.stderr).toBe("hush: error: unknown command (the word after `hush` is none of its commands)\nhush: hint: did you mean `hush serve`? (run `hush --help` for the list)\n");
    const b = await hush(["kv", "gte", "x"]);
    expect(b.stderr.split("\n")[1]).toContain("did you mean `hush kv get`?");
    const c = await hush(["frobnicate"]);
    expect(c.stderr.trimEnd().split("\n")).toHaveLength(2);
    expect(c.stderr).toContain("hush has: serve, run, kv");
    expect((await hush(["help", "kv"])).stdout).toContain("hush kv — ");
    expect((await hush(["kv", "help"])).stdout).toContain("hush kv — ");
  });

  test("an unknown word is never quoted back (it may be a secret typed in the wrong place)", async () => {
    const secret = "S3cret-" + crypto.randomUUID();
    for (const argv of [[secret], ["kv", secret], ["help", secret], [`--${secret}`], ["kv", `--${secret}`], ["kv", "get", "k", `--${secret}=x`], ["kv", "get", "k", `-${secret}`]]) {
      const r = await hush(argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toMatch(/^hush: error: unknown (command|flag) \(/);
      expect(r.stdout + r.stderr).not.toContain("S3cret");
    }
    // Only a real command or flag is named, and only when the word is close to one.
    expect((await hush(["kv", "gett"])).stderr).toContain("did you mean `hush kv get`?");
    expect((await hush(["kv", "get", "k", "--sokcet", "x"])).stderr).toContain("did you mean --socket?");
  });
});

describe("colour", () => {
  const ESC = "\x1b[";
  test("never into a pipe, unless FORCE_COLOR=1", async () => {
    for (const args of [["--help"], ["kv", "get", "--help"], ["frobnicate"]]) {
      const r = await hush(args, { env: { NO_COLOR: undefined, FORCE_COLOR: undefined, TERM: "xterm" } });
      expect(r.stdout + r.stderr).not.toContain(ESC);
    }
    const f = await hush(["--help"], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(f.stdout).toContain(ESC);
    const e = await hush(["frobnicate"], { env: { NO_COLOR: undefined, FORCE_COLOR: "1" } });
    expect(e.stderr).toContain(`hush: ${ESC}31merror${ESC}39m: `);
  });

  test.skipIf(!SCRIPT)("on a terminal, unless NO_COLOR, FORCE_COLOR=0 or TERM=dumb", () => {
    expect(onTerminal(["--help"])).toContain(ESC);
    expect(onTerminal(["--help"], { NO_COLOR: "1" })).not.toContain(ESC);
    expect(onTerminal(["--help"], { FORCE_COLOR: "0" })).not.toContain(ESC);
    expect(onTerminal(["--help"], { TERM: "dumb" })).not.toContain(ESC);
  });
});

describe("--json errors", () => {
  test("one JSON object on stderr, the same exit code", async () => {
    const cases: [string[], Record<string, string | undefined>, string, number][] = [
      [["kv", "get", "nope", "--json"], env, "not_found", 3],
      [["kv", "get", "x", "--jsn", "--json"], env, "usage", 2],
      [["kv", "get", "x", "y", "--json"], env, "usage", 2],
      [["kv", "get", "x", "--json"], { HUSH_CREDENTIAL: undefined }, "invalid_request", 2],
      [["kv", "get", "x", "--json", "--socket", join(tempDir(), "none.sock")], env, "unavailable", 6],
      [["lock", "acquire", "j", "--ttl", "99d", "--json"], env, "invalid_ttl", 2],
    ];
    for (const [argv, e, code, exit] of cases) {
      const r = await d.cli(argv, { env: e });
      expect({ argv, exit: r.code, stdout: r.stdout }).toEqual({ argv, exit, stdout: "" });
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      const o = JSON.parse(lines[0]);
      expect(o.error).toBe(code);
      expect(typeof o.message).toBe("string");
      expect(Object.keys(o).every((k) => ["error", "message", "hint"].includes(k))).toBe(true);
    }
  });
});

describe("shell completion", () => {
  test("bash: the script parses, and completes subcommands and flags", async () => {
    const s = await hush(["completion", "bash"]);
    expect(s.code).toBe(0);
    const file = join(tempDir(), "hush.bash");
    await Bun.write(file, s.stdout);
    expect(Bun.spawnSync(["bash", "-n", file]).exitCode).toBe(0);
    const complete = (words: string[]) => {
      const sh = `source ${q(file)}; COMP_WORDS=(${words.map(q).join(" ")}); COMP_CWORD=${words.length - 1}; _hush; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return Bun.spawnSync(["bash", "-c", sh]).stdout.toString().trim().split("\n");
    };
    expect(complete(["hush", "kv", "g"])).toEqual(["get"]);
    expect(complete(["hush", "comp"])).toEqual(["completion"]);
    expect(complete(["hush", "kv", "get", "--cred"])).toEqual(["--credential-file"]);
    expect(complete(["hush", "rotate", "server-key", "--st"])).toEqual(["--stage"]);
  });

  test("zsh and fish scripts are produced from the same tree (checked by the shell when installed)", async () => {
    const z = await hush(["completion", "zsh"]);
    expect(z.code).toBe(0);
    expect(z.stdout).toStartWith("#compdef hush\n");
    expect(z.stdout).toContain("'get:Print a value.");
    const f = await hush(["completion", "fish"]);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain("complete -c hush -n 'test (__hush_path) = \\'hush kv\\'' -a 'get'");
    for (const [shell, text] of [["zsh", z.stdout], ["fish", f.stdout]] as const) {
      if (!Bun.which(shell)) continue;
      const file = join(tempDir(), `hush.${shell}`);
      await Bun.write(file, text);
      expect(Bun.spawnSync([shell, "-n", file]).exitCode).toBe(0);
    }
    expect((await hush(["completion", "tcsh"])).code).toBe(2);
  });
});

describe("bench progress", () => {
  const args = ["bench", "--op", "ping", "--duration", "2s", "--warmup", "0", "--connections", "1"];
  test.skipIf(!SCRIPT)("on a terminal: a progress line on stderr, cleared before the report", () => {
    const out = onTerminal(args);
    expect(out).toContain("bench: measuring 1s / 2s");
    expect(out).toContain("\r\x1b[K");
    expect(out).toContain("ops/s");
  });
  test("into a pipe: no progress", async () => {
    const r = await hush(args);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("bench:");
    expect(r.stdout).toContain("ping");
  });
});

describe("--url with the wrong scheme for its port", () => {
  const freePort = () => {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const p = s.port;
    s.stop(true);
    return p;
  };
  test("http:// to the TLS port suggests https://; https:// to a plain loopback port suggests http://", async () => {
    const tlsPort = freePort();
    const t = await startDaemon(["--listen", `https://127.0.0.1:${tlsPort}`]);
    const plainPort = freePort();
    const p = await startDaemon(["--listen", `http://127.0.0.1:${plainPort}`, "--insecure-loopback"]);
    try {
      const a = await hush(["kv", "get", "x", "--url", `http://127.0.0.1:${tlsPort}`], { env: { HUSH_CREDENTIAL: await t.issue("u1") } });
      expect(a.code).toBe(6);
      expect(a.stderr).toContain(`answered with TLS, not plain HTTP`);
      expect(a.stderr).toContain(`hush: hint: use --url https://127.0.0.1:${tlsPort}`);
      expect(a.stderr).not.toContain("is `hush serve` running?");
      const pin = "sha256//" + Buffer.alloc(32).toString("base64");
      const b = await hush(["kv", "get", "x", "--url", `https://127.0.0.1:${plainPort}`, "--tls-pin", pin], { env: { HUSH_CREDENTIAL: await p.issue("u2") } });
      expect(b.code).toBe(6);
      expect(b.stderr).toContain(`use --url http://127.0.0.1:${plainPort}`);
    } finally {
      t.cleanup();
      p.cleanup();
    }
  });
});
