/**
 * Every `hush …` example a user can copy, from the README's shell blocks and
 * from every `--help` page of dist/hush, parses: its command exists, its
 * flags exist and get their values, no flag is repeated, the arguments are
 * the right number (the runner's own check, cmd/_argv.ts). The README lines
 * that are safe to run on one machine (no daemon start, no other host, no
 * child command) then run as written, in order, against a private daemon,
 * and none of them fails on its input or usage (exit 2) or otherwise (1):
 * placeholder ids may be "not found" (3) or "conflict" (4).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve as resolvePath } from "node:path";
import { HUSH, hush, startDaemon, tempDir, type Daemon } from "./_harness.ts";
import { main } from "../../cmd/_commands.ts";
import { resolve, walk } from "../../cmd/_tree.ts";
import { checkArgv } from "../../cmd/_argv.ts";

const README = await Bun.file(resolvePath(import.meta.dir, "../../README.md")).text();

/** Shell words of `line` up to the end of its first command: quotes kept as words, `$…` as a placeholder. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      let j = line.indexOf(c, i + 1);
      if (j < 0) j = line.length;
      cur = (cur ?? "") + (c === "'" ? line.slice(i + 1, j) : line.slice(i + 1, j).replace(/\$\(.*?\)|\$\{?\w+\}?/g, "X"));
      i = j;
    } else if (c === "$" && line[i + 1] === "(") {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) if (line[j] === "(") depth++; else if (line[j] === ")" && --depth === 0) break;
      cur = (cur ?? "") + "X";
      i = j;
    } else if (c === "$") {
      const m = /^\$\{?\w+\}?/.exec(line.slice(i));
      cur = (cur ?? "") + "X";
      i += (m?.[0].length ?? 1) - 1;
    } else if (/\s/.test(c)) {
      if (cur !== undefined) out.push(cur);
      cur = undefined;
    } else if ("|;&<>)#".includes(c) && cur === undefined) break;
    else cur = (cur ?? "") + c;
  }
  if (cur !== undefined) out.push(cur);
  return out;
}

/** The `hush …` invocations in a command line (after `|`, `$(`, `<(`, `VAR=… `, `sudo -u U `). */
function invocations(line: string): string[][] {
  const out: string[][] = [];
  for (const m of line.matchAll(/(?:^|[|(;]\s*|\$\(|<\(|\s)(?:[A-Z_]+=(?:"[^"]*"|'[^']*'|\S+)\s+)*(?:sudo -u \w+ )?(?:\.\/dist\/)?hush((?: [^|;)#]*)?)/g)) {
    const w = words(m[1].trim());
    if (w.length) out.push(w);
  }
  return out;
}

/** The README's ```sh blocks, with the heading each is under. */
const readmeBlocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => {
  const before = README.slice(0, m.index);
  return { heading: [...before.matchAll(/^#+ (.*)$/gm)].at(-1)?.[1] ?? "", body: m[1] };
});

/** A line's own text: leading indentation, `# comment` and trailing `\` dropped. */
const commandLines = (body: string) =>
  body
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

async function checkParses(argv: string[], where: string): Promise<string | undefined> {
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const r = await resolve(main, own);
  if (r.unknown) return `${where}: unknown command ${r.unknown}`;
  if (!r.cmd.run) return r.rest.length ? `${where}: ${own.join(" ")}: a group, not a command` : undefined; // `hush kv --help` style
  try {
    await checkArgv(r.cmd, r.path, r.rest, dd >= 0 ? argv.slice(dd + 1) : undefined);
  } catch (e: any) {
    return `${where}: hush ${argv.join(" ")}: ${e.message}`;
  }
  return undefined;
}

describe("every example parses", () => {
  test("the README's hush command lines", async () => {
    const problems: string[] = [];
    let n = 0;
    for (const b of readmeBlocks) {
      for (const line of commandLines(b.body)) {
        for (const argv of invocations(line)) {
          n++;
          const p = await checkParses(argv, `README "${b.heading}"`);
          if (p) problems.push(p);
        }
      }
    }
    expect(n).toBeGreaterThan(80);
    expect(problems).toEqual([]);
  });

  test("the EXAMPLES of every --help page of dist/hush", async () => {
    const problems: string[] = [];
    let n = 0;
    for (const node of await walk(main)) {
      const page = await hush([...node.path, "--help"]);
      expect(page.code).toBe(0);
      const examples = page.stdout.split("\nEXAMPLES\n")[1] ?? "";
      for (const line of examples.split("\n").map((l) => l.trim()).filter(Boolean)) {
        for (const argv of invocations(line)) {
          n++;
          const p = await checkParses(argv, `hush ${node.path.join(" ")} --help`);
          if (p) problems.push(p);
        }
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(problems).toEqual([]);
  });
});

describe("the README's safe lines run as written", () => {
  let d: Daemon;
  let cwd: string;
  let bin: string;
  beforeAll(async () => {
    d = await startDaemon();
    cwd = tempDir();
    bin = join(cwd, ".bin");
    mkdirSync(bin);
    symlinkSync(HUSH, join(bin, "hush"));
    writeFileSync(join(cwd, "token.txt"), "t0ken\n", { mode: 0o600 });
  });
  afterAll(() => d.cleanup());

  /** Lines that start a daemon, need another host, a service user, root, a child command or a file we do not have. */
  const unsafe = /hush (serve|run|bench)\b|10\.0\.0\.1|ctl\.example|sudo|\/run\/|\/var\/lib|\/etc\/| -- |\btail -f\b| -f\b|npm|curl|psql|configure-router|\$PW|\$ENABLE|\$SECRET|\$VALUE|\$CURSOR|promtool|minisign|hush\.sock|audit\.jsonl|hush join|creds\.json|completion zsh|audit verify/;
  const sections = ["Workers (admin)", "Join tokens", "Rotation", "Server keys", "Key-value store", "Locks with fencing tokens", "Lease pools", "Credentials and checkout", "Other commands"];

  test("none fails on its input or usage", async () => {
    const lines = readmeBlocks.filter((b) => sections.includes(b.heading)).flatMap((b) => commandLines(b.body)).filter((l) => (/\bhush\b/.test(l) || l.startsWith("export HUSH_")) && !unsafe.test(l));
    expect(lines.length).toBeGreaterThan(30);
    const script = lines.map((l, i) => `${l}\necho "__rc $? ${i}" >&2`).join("\n");
    const env: Record<string, string> = { ...(process.env as Record<string, string>), PATH: `${bin}:${process.env.PATH}`, HUSH_SOCKET: d.socket, NO_COLOR: "1", TOKEN: "x", URL: "postgres://example/db", HOSTNAME: "example-host" };
    for (const k of ["HUSH_CREDENTIAL", "HUSH_URL", "HUSH_ADMIN_CREDENTIAL", "XDG_RUNTIME_DIR"]) delete env[k];
    const r = Bun.spawnSync(["bash", "-o", "pipefail", "-c", script], { cwd, env, stdout: "pipe", stderr: "pipe" });
    const err = r.stderr.toString();
    const failed = [...err.matchAll(/^__rc (\d+) (\d+)$/gm)].filter((m) => !["0", "3", "4"].includes(m[1])).map((m) => `exit ${m[1]}: ${lines[Number(m[2])]}`);
    expect({ failed, stderr: failed.length ? err : "" }).toEqual({ failed: [], stderr: "" });
    expect([...err.matchAll(/^__rc /gm)].length).toBe(lines.length);
  }, 60_000);
});
