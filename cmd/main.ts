#!/usr/bin/env bun
/**
 * hush — the command-line entry point. Each subcommand is its own file,
 * loaded only when it runs. Every command goes through one runner: help,
 * the argument check (`_argv.ts`), the call, and error output (`_report.ts`).
 * @module
 */
import { runCommand, type CommandDef } from "citty";
import { main } from "./_commands.ts";
import { EXIT } from "./_shared.ts";
import { VERSION } from "./_version.ts";
import { checkArgv, unknownFlag } from "./_argv.ts";
import { reportError, UsageError } from "./_report.ts";
import { closest, resolve, subCommandNames } from "./_tree.ts";
import { renderHelp } from "./_usage.ts";
import { diagnose } from "./_diagnose.ts";
import { hardenCli } from "../src/os/harden.ts";
import { SECRET_ENV } from "../src/os/env.ts";
import { explain, type Invocation } from "./_explain.ts";

/**
 * `hush kv gte` → "unknown command", with the closest name when one is
 * close. The word itself is never quoted back: it may be a secret pasted in
 * the wrong place (SECURITY.md invariant 3); only real commands are named.
 */
async function unknownCommand(group: CommandDef<any>, path: string[], word: string): Promise<UsageError> {
  const names = await subCommandNames(group);
  const near = closest(word, names);
  const where = ["hush", ...path].join(" ");
  return new UsageError(
    `unknown command (the word after \`${where}\` is none of its commands)`,
    near ? `did you mean \`${where} ${near}\`? (run \`${where} --help\` for the list)` : `${where} has: ${names.join(", ")}; run \`${where} --help\``,
  );
}

/** Print help for the command that `words` name; an unknown word is an error. */
async function help(words: string[], stream: NodeJS.WriteStream): Promise<void> {
  const r = await resolve(main, words.filter((w) => !w.startsWith("-")));
  if (r.unknown) throw await unknownCommand(r.cmd, r.path, r.unknown);
  stream.write((await renderHelp(r.cmd, r.path, stream)) + "\n");
}

async function runHush(argv: string[]): Promise<number> {
  // Everything after `--` belongs to the child command (hush run / join / checkout).
  const dd = argv.indexOf("--");
  const own = dd >= 0 ? argv.slice(0, dd) : argv;
  const after = dd >= 0 ? argv.slice(dd + 1) : undefined;
  const json = own.includes("--json");
  let inv: Invocation | undefined;
  try {
    if (argv.length === 0) {
      await help([], process.stderr);
      return EXIT.usage;
    }
    if (own[0] === "help") return await help(own.slice(1), process.stdout), EXIT.ok;
    if (own.length === 1 && (own[0] === "--version" || own[0] === "-v")) return process.stdout.write(VERSION + "\n"), EXIT.ok;
    const { cmd, path, rest, unknown } = await resolve(main, own);
    if (unknown) {
      // `hush kv help`: the group's help.
      if (unknown === "help" && rest.length === 1) return await help(path, process.stdout), EXIT.ok;
      throw await unknownCommand(cmd, path, unknown);
    }
    const wantsHelp = (words: string[]) => words.includes("--help") || words.includes("-h");
    if (!cmd.run && wantsHelp(rest)) return await help(path, process.stdout), EXIT.ok;
    if (!cmd.run) {
      const where = ["hush", ...path].join(" ");
      if (rest[0]) throw new UsageError(`${unknownFlag(rest[0])} (\`${where}\` takes none before its command)`, `flags go after the command: ${where} <COMMAND> [OPTIONS]; run \`${where} --help\``);
      throw new UsageError(`${where} needs a command: ${(await subCommandNames(cmd)).join(", ")}`, `run \`${where} --help\` for what each does`);
    }
    const { rawArgs, help: helpAsked, positionals, values } = await checkArgv(cmd, path, rest, after);
    if (helpAsked) return await help(path, process.stdout), EXIT.ok;
    inv = { path: path.join(" "), positionals, flags: values };
    const { result } = await runCommand(cmd, { rawArgs, data: { passthrough: after ?? [] } });
    return typeof result === "number" ? result : EXIT.ok;
  } catch (e) {
    return reportError(await diagnose(inv ? explain(e, inv) : e, own), json);
  }
}

// First, before any command reads a secret: not dumpable, no core file, and
// hush's secret variables scrubbed from /proc/self/environ (src/os/harden.ts).
// A command that waits for a child (join, checkout, run) or stays alive
// (serve, audit tail -f) holds its secrets out of reach of that child and of
// every other process of the same uid.
hardenCli(SECRET_ENV);
const code = await runHush(process.argv.slice(2));
// serve and run keep the process alive themselves and exit on their own.
if (code !== -1) process.exit(code);
