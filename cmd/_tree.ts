/**
 * The command tree, read from the citty definitions themselves: the help
 * pages, the argument checks and shell completion all walk this one source,
 * so none of them can go stale.
 * @module
 */
import type { ArgDef, CommandDef } from "citty";

/** One command of the tree: its words (`["kv", "get"]`) and its definition. */
export interface TreeNode {
  path: string[];
  cmd: CommandDef<any>;
}

/** A flag as the parser sees it. */
export interface FlagInfo {
  name: string;
  aliases: string[];
  /** A boolean flag takes no value; a string flag takes the next word (or `=VALUE`). */
  boolean: boolean;
  def: ArgDef;
}

const value = async <T>(v: unknown): Promise<T> => (typeof v === "function" ? await (v as () => T | Promise<T>)() : await (v as T));

/** The subcommands of `cmd`, resolved (name → definition), or `{}` for a leaf. */
export async function subCommandsOf(cmd: CommandDef<any>): Promise<Record<string, CommandDef<any>>> {
  const subs = (await value<Record<string, unknown> | undefined>(cmd.subCommands)) ?? {};
  const out: Record<string, CommandDef<any>> = {};
  for (const [name, sub] of Object.entries(subs)) out[name] = await value<CommandDef<any>>(sub);
  return out;
}

/** The names of `cmd`'s subcommands without loading them. */
export async function subCommandNames(cmd: CommandDef<any>): Promise<string[]> {
  return Object.keys((await value<Record<string, unknown> | undefined>(cmd.subCommands)) ?? {});
}

/** `cmd`'s argument definitions. */
export async function argsOf(cmd: CommandDef<any>): Promise<Record<string, ArgDef>> {
  return (await value<Record<string, ArgDef> | undefined>(cmd.args)) ?? {};
}

/** `cmd`'s one-line description. */
export async function describe(cmd: CommandDef<any>): Promise<string> {
  return (await value<{ description?: string } | undefined>(cmd.meta))?.description ?? "";
}

/** The flags of `cmd`, each under its name, its aliases and (booleans) `no-NAME`. */
export async function flagsOf(cmd: CommandDef<any>): Promise<Map<string, FlagInfo>> {
  const known = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(await argsOf(cmd))) {
    if (def.type === "positional") continue;
    const info: FlagInfo = { name, aliases: [(def as any).alias ?? []].flat() as string[], boolean: def.type === "boolean", def };
    known.set(name, info);
    for (const a of info.aliases) known.set(a, info);
    if (info.boolean) known.set("no-" + name, info);
  }
  return known;
}

/** The positional arguments of `cmd`, in order. */
export async function positionalsOf(cmd: CommandDef<any>): Promise<{ name: string; required: boolean; description: string }[]> {
  return Object.entries(await argsOf(cmd))
    .filter(([, d]) => d.type === "positional")
    .map(([name, d]) => ({ name, required: d.required !== false && d.default === undefined, description: d.description ?? "" }));
}

/**
 * Walk `words` down from `root` as long as they name subcommands. `rest` is
 * what is left for the command found; `unknown` is a word that should have
 * named a subcommand of a group but did not.
 */
export async function resolve(root: CommandDef<any>, words: string[]) {
  let cmd = root;
  let parent: CommandDef<any> | undefined;
  const path: string[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w.startsWith("-")) break;
    const names = await subCommandNames(cmd);
    if (names.length === 0) break;
    if (!names.includes(w)) return { cmd, parent, path, rest: words.slice(i), unknown: w };
    parent = cmd;
    cmd = (await subCommandsOf(cmd))[w];
    path.push(w);
  }
  return { cmd, parent, path, rest: words.slice(i), unknown: undefined as string | undefined };
}

/** Every command of the tree, parents before their children. */
export async function walk(root: CommandDef<any>, path: string[] = []): Promise<TreeNode[]> {
  const out: TreeNode[] = [{ path, cmd: root }];
  for (const [name, sub] of Object.entries(await subCommandsOf(root))) out.push(...(await walk(sub, [...path, name])));
  return out;
}

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `word`, if it is close enough to be a typo (or `word` is its prefix). */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}
