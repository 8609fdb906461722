/**
 * The argument check every command goes through before it runs: nothing on
 * the command line is silently ignored. An unknown flag, a flag without its
 * value, a missing or an extra argument is a usage error (exit 2) with a
 * hint. citty itself accepts all of these quietly.
 *
 * Extra arguments are never quoted back: a user who typed a secret where an
 * argument does not belong must not see it echoed (into a terminal log, a CI
 * log). Flag names are quoted, never their values.
 * @module
 */
import type { CommandDef } from "citty";
import { HushError } from "../src/errors.ts";
import { HELP } from "./_help.ts";
import { UsageError } from "./_report.ts";
import { closest, flagsOf, positionalsOf, type FlagInfo } from "./_tree.ts";
import { usageLines } from "./_usage.ts";
import { KEY_KINDS, keyKindOf } from "./_credentials.ts";
import { isRegularFile, looksLikeKeyString } from "./_files.ts";

const isFlag = (a: string) => a.startsWith("-") && a !== "-" && !/^-\d/.test(a);

/**
 * "unknown flag", naming the flag only when its name cannot carry a secret
 * typed in the wrong place (SECURITY.md): the part before any `=`, when it
 * is a short lowercase word (hush secrets have uppercase prefixes and
 * base64url bodies). Anything else is never quoted back.
 */
export function unknownFlag(word: string): string {
  const flag = word.split("=")[0]!;
  return /^--?[a-z][a-z0-9-]{0,31}$/.test(flag) ? `unknown flag ${flag}` : "unknown flag";
}

/**
 * Check `own` (the words after the command's path, before any `--`) and
 * `after` (the words after `--`) for the command at `path`. Returns the raw
 * arguments to hand to citty: for commands that run `-- CMD`, `after` is
 * the command and is not passed on; elsewhere `--` ends the flags and what
 * follows are arguments (`hush kv get -- -odd-key`). `help` is true when
 * `--help` or `-h` comes before any mistake (`hush checkout db psql -h x` is
 * a missing `--`, not a request for help).
 */
export async function checkArgv(
  cmd: CommandDef<any>,
  path: string[],
  own: string[],
  after: string[] | undefined,
): Promise<{ rawArgs: string[]; help: boolean; positionals: string[]; values: Map<string, string> }> {
  const name = ["hush", ...path].join(" ");
  const page = HELP[path.join(" ")];
  const flags = await flagsOf(cmd);
  const wanted = await positionalsOf(cmd);
  const usageHint = `run \`${name} --help\` for usage and examples`;
  const positionals: string[] = [];
  const seen = new Map<string, string>();
  const values = new Map<string, string>();
  for (let i = 0; i < own.length; i++) {
    const a = own[i];
    if (!isFlag(a)) {
      if (looksLikeKeyString(a)) throw secretOnArgv(a);
      positionals.push(a);
      if (positionals.length > wanted.length && !page?.variadic) throw extraArgument(name, page, wanted.map((p) => p.name), a, flags);
      continue;
    }
    if (a === "--help" || a === "-h") return { rawArgs: [], help: true, positionals, values };
    const flag = a.replace(/^--?/, "").split("=")[0];
    const f = flags.get(flag);
    if (!f) {
      const near = closest(flag, [...new Set([...flags.values()].map((x) => x.name))]);
      throw new UsageError(`${unknownFlag(a)} (\`${name}\` has no such option)`, near ? `did you mean --${near}? (${usageHint})` : usageHint);
    }
    // A value flag given twice used to keep the last value silently; a boolean and its --no- form contradict.
    const word = a.split("=")[0];
    const before = seen.get(f.name);
    if (before !== undefined && !page?.repeatable?.includes(f.name)) {
      if (!f.boolean) throw new UsageError(`--${f.name} is given twice`, `it takes one value: give it once (${usageHint})`);
      if (before.startsWith("--no-") !== word.startsWith("--no-")) throw new UsageError(`${before} and ${word} contradict each other`, `give one of them (${usageHint})`);
    }
    seen.set(f.name, word);
    if (f.boolean) continue;
    if (a.includes("=")) {
      values.set(f.name, a.slice(a.indexOf("=") + 1));
      continue;
    }
    if (i + 1 >= own.length) throw new UsageError(`${a} needs a value${f.def.valueHint ? ` (${f.def.valueHint})` : ""}`, usageHint);
    values.set(f.name, own[++i]);
  }
  const rest = page?.passthrough ? [] : (after ?? []);
  misplacedFlags(name, own, rest, flags, page?.variadic ? Infinity : wanted.length - positionals.length);
  for (const a of rest) {
    if (looksLikeKeyString(a)) throw secretOnArgv(a);
    positionals.push(a);
    if (positionals.length > wanted.length && !page?.variadic) throw extraArgument(name, page, wanted.map((p) => p.name), a, flags);
  }
  const missing = wanted.find((p, i) => p.required && positionals[i] === undefined);
  const absent = [...flags].find(([n, f]) => n === f.name && (f.def as any).required && !seen.has(n));
  if (missing || absent) {
    const usage = `usage: ${(await usageLines(cmd, path)).join(" | ")}; run \`${name} --help\` for examples`;
    throw new UsageError(missing ? `missing argument ${missing.name.toUpperCase()} (${missing.description})` : `--${absent![0]} is required`, usage);
  }
  return { rawArgs: after && !page?.passthrough ? [...own, "--", ...after] : own, help: false, positionals, values };
}

/** A key string typed (or pasted) as an argument: refused, never echoed, with where it belongs. */
function secretOnArgv(a: string): UsageError {
  const kind = keyKindOf(a);
  const k = kind ? KEY_KINDS[kind] : undefined;
  const from = kind === "join" ? "use --token-file FILE or set HUSH_JOIN_TOKEN" : k?.belongs ?? "put it in a file (mode 0600) or an environment variable";
  const secret = !/^(hushpub1|hushaudit1)/i.test(a.trim());
  return new UsageError(
    `${k ? k.name : "a key string"} on the command line is refused: ${secret ? "secrets never come from argv (other users can see it in ps)" : "no command takes a key as an argument"}`,
    secret ? `${from}; it has been on a command line, so treat it as exposed${kind === "join" ? " (revoke it: hush token revoke ID)" : ""}` : from,
  );
}

/** A word in the shell's quoting when it needs any (for a command line to copy). */
const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`);

/**
 * `hush kv set -- -key --ttl 1m`: after `--` every word is an argument, so
 * flags there are arguments too. When moving them before `--` leaves the
 * right number of arguments (`room`), say so with the command line to use
 * (only flags and the arguments it takes: no value is ever shown).
 */
function misplacedFlags(name: string, own: string[], after: string[], flags: Map<string, FlagInfo>, room: number): void {
  const flag = (w: string) => (isFlag(w) ? flags.get(w.replace(/^--?/, "").split("=")[0]) : undefined);
  if (after.length <= room || !after.some(flag)) return;
  const moved: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < after.length; i++) {
    const f = flag(after[i]);
    if (!f) args.push(after[i]);
    else {
      moved.push(after[i]);
      if (!f.boolean && !after[i].includes("=") && i + 1 < after.length) moved.push(after[++i]);
    }
  }
  if (args.length > room) return;
  throw new UsageError(
    `flags go before --: after it, ${moved.filter(isFlag).join(" ")} would be argument${moved.filter(isFlag).length > 1 ? "s" : ""}`,
    `${name} ${[...own, ...moved].map(shellWord).join(" ")} -- ${args.map(shellWord).join(" ")}`,
  );
}

function extraArgument(name: string, page: (typeof HELP)[string] | undefined, wanted: string[], word: string, flags: Map<string, FlagInfo>): UsageError {
  // Only a word that names an existing file is ever quoted back (a file name, not a secret).
  const file = isRegularFile(word) ? word : undefined;
  if (page?.readsValue) {
    return new UsageError(
      "values are read from stdin or --value-file, never from the command line",
      file ? `to read the value from that file: ${name} … --value-file ${shellWord(file)}` : `pipe it in: printf %s "$VALUE" | ${name} …, or put it in a file (mode 0600) and pass --value-file FILE`,
    );
  }
  if (page?.passthrough) {
    const form = wanted.length ? wanted.map((w) => w.toUpperCase()).join(" ") + " " : "";
    return new UsageError(
      `${name} takes ${wanted.length ? `only ${form.trim()}` : "no arguments"} before --`,
      `to run a command, put it after --: ${name} [OPTIONS] ${form}-- CMD [ARGS…]`,
    );
  }
  const takes = wanted.length === 0 ? "no arguments" : `${wanted.length} argument${wanted.length > 1 ? "s" : ""} (${wanted.map((w) => w.toUpperCase()).join(" ")})`;
  const fileFlag = file && (flags.get("file") ?? [...flags.values()].find((f) => f.def.valueHint === "FILE"));
  return new UsageError(`too many arguments: ${name} takes ${takes}`, fileFlag ? `did you mean --${fileFlag.name} ${shellWord(file!)}?` : `run \`${name} --help\` for usage and examples`);
}

/**
 * `value` when it is one of `options`; otherwise a usage error that lists
 * them and suggests the closest (`--stage activte` → `--stage activate`).
 */
export function oneOf<T extends string>(value: string, flag: string, options: readonly T[]): T {
  if ((options as readonly string[]).includes(value)) return value as T;
  const near = closest(value, [...options]);
  const list = options.length === 2 ? options.join(" or ") : `${options.slice(0, -1).join(", ")} or ${options.at(-1)}`;
  // The value given is not quoted back (like an unknown flag: it may be a secret typed in the wrong place).
  throw new HushError("invalid_request", `${flag} must be ${list}`, near ? { hint: `did you mean ${flag} ${near}?` } : {});
}
