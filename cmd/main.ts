#!/usr/bin/env bun
/**
 * hush — the command-line entry point. Each subcommand is its own file,
 * loaded only when it runs.
 * @module
 */
import { defineCommand, runCommand, showUsage, type CommandDef } from "citty";
import { EXIT, reportError } from "./_shared.ts";
import { VERSION } from "./_version.ts";
import { HELP } from "./_help.ts";

const ROOT_HELP = `Examples:
  hush serve                                   # start the daemon (owner-only socket)
  hush workers issue --name ci --out ci.cred   # mint a worker credential
  export HUSH_CREDENTIAL=$(grep -v '^#' ci.cred)
  printf %s "$SECRET" | hush kv set api/token --ttl 1h
  hush run -- npm test                         # private daemon for one command

Exit codes: 0 ok, 1 error, 2 bad input or usage, 3 not found, 4 conflict
(lock held, pool exhausted, already running), 5 authentication or permission
refused, 6 daemon unreachable, busy or not ready. hush run passes through the
command's exit code.`;

const lazy = (load: () => Promise<{ default: CommandDef<any> }>) => () => load().then((m) => m.default);

export const main = defineCommand({
  meta: {
    name: "hush",
    version: VERSION,
    description: "In-memory secrets and coordination state, handed only to workers that prove who they are.",
  },
  subCommands: {
    serve: lazy(() => import("./serve.ts")),
    run: lazy(() => import("./run.ts")),
    kv: lazy(() => import("./kv/index.ts")),
    lock: lazy(() => import("./lock/index.ts")),
    pool: lazy(() => import("./pool/index.ts")),
    join: lazy(() => import("./join.ts")),
    token: lazy(() => import("./token/index.ts")),
    creds: lazy(() => import("./creds/index.ts")),
    checkout: lazy(() => import("./checkout.ts")),
    audit: lazy(() => import("./audit/index.ts")),
    workers: lazy(() => import("./workers/index.ts")),
    rotate: lazy(() => import("./rotate/index.ts")),
    keygen: lazy(() => import("./keygen/index.ts")),
    stats: lazy(() => import("./stats.ts")),
    health: lazy(() => import("./health.ts")),
    bench: lazy(() => import("./bench.ts")),
    version: lazy(() => import("./version.ts")),
  },
});

async function subCommandsOf(cmd: CommandDef<any>): Promise<Record<string, any> | undefined> {
  return typeof cmd.subCommands === "function" ? await (cmd.subCommands as any)() : await cmd.subCommands;
}

/**
 * Walk argv to the leaf command. citty's own dispatch drops a subcommand's
 * return value and `data`, which hush needs for exit codes and `-- CMD`.
 */
async function resolve(cmd: CommandDef<any>, args: string[]) {
  let parent: CommandDef<any> | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("-")) break;
    const next = (await subCommandsOf(cmd))?.[a];
    if (!next) break;
    parent = cmd;
    cmd = typeof next === "function" ? await next() : await next;
  }
  return { cmd, parent, rest: args.slice(i), path: args.slice(0, i).join(" ") };
}

/**
 * citty accepts any flag silently; a typo such as `--ttl-requird` must not be
 * ignored by a security tool. Returns the first unknown flag, if any.
 */
async function findUnknownFlag(cmd: CommandDef<any>, rest: string[]): Promise<string | undefined> {
  const defs: Record<string, any> = (typeof cmd.args === "function" ? await (cmd.args as any)() : await cmd.args) ?? {};
  const known = new Map<string, any>();
  for (const [name, d] of Object.entries(defs)) {
    if (d.type === "positional") continue;
    known.set(name, d);
    for (const a of [d.alias ?? []].flat()) known.set(a, d);
    if (d.type === "boolean") known.set("no-" + name, d);
  }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith("-") || a === "-" || /^-\d/.test(a)) continue;
    const name = a.replace(/^--?/, "").split("=")[0];
    const d = known.get(name);
    if (!d) return a.split("=")[0];
    if (d.type !== "boolean" && !a.includes("=")) i++; // skip the flag's value
  }
  return undefined;
}

async function runHush(argv: string[]): Promise<number> {
  // Everything after `--` belongs to the child command (hush run / join / checkout).
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const passthrough = dd >= 0 ? argv.slice(dd + 1) : [];
  if (own.length === 0 || own.includes("--help") || own.includes("-h") || own[own.length - 1] === "help") {
    const words = own.filter((a) => a !== "help");
    const { cmd, parent, path } = await resolve(main, words);
    await showUsage(cmd, parent);
    const extra = path ? HELP[path] : ROOT_HELP;
    if (extra) process.stdout.write(extra + "\n");
    return own.length === 0 ? EXIT.usage : EXIT.ok;
  }
  if (own.length === 1 && (own[0] === "--version" || own[0] === "-v")) {
    process.stdout.write(VERSION + "\n");
    return EXIT.ok;
  }
  try {
    const { cmd, parent, rest, path } = await resolve(main, own);
    if (!cmd.run) {
      await showUsage(cmd, parent);
      const what = rest[0] && !rest[0].startsWith("-") ? `unknown command: ${["hush", path, rest[0]].filter(Boolean).join(" ")}` : `hush ${path} needs a subcommand`;
      process.stderr.write(`hush: error: ${what}\n`);
      return EXIT.usage;
    }
    const unknown = await findUnknownFlag(cmd, rest);
    if (unknown) {
      process.stderr.write(`hush: error: unknown flag ${unknown}\nhush: hint: run \`hush ${path} --help\` for usage\n`);
      return EXIT.usage;
    }
    const { result } = await runCommand(cmd, { rawArgs: rest, data: { passthrough } });
    return typeof result === "number" ? result : EXIT.ok;
  } catch (e: any) {
    if (e?.name === "CLIError") {
      process.stderr.write(`hush: error: ${e.message}\n`);
      process.stderr.write("hush: hint: run `hush " + own.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ") + " --help` for usage\n");
      return EXIT.usage;
    }
    return reportError(e);
  }
}

const code = await runHush(process.argv.slice(2));
// serve and run keep the process alive themselves and exit on their own.
if (code !== -1) process.exit(code);
