/**
 * Help pages, rendered from the command tree and the long help table:
 * a description, `USAGE` lines that start with `hush`, arguments, options,
 * subcommands, details and examples. Colour only where `_color.ts` allows.
 * @module
 */
import type { ArgDef, CommandDef } from "citty";
import { realpathSync } from "node:fs";
import { basename, isAbsolute, relative } from "node:path";
import { palette, type MaybeTty } from "./_color.ts";
import { HELP } from "./_help.ts";
import { argsOf, describe, positionalsOf, subCommandsOf } from "./_tree.ts";

const flagLabel = (name: string, d: ArgDef) => {
  const aliases = ([(d as any).alias ?? []].flat() as string[]).map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
  const hint = d.type === "boolean" ? "" : " " + ((d as any).valueHint ?? name.toUpperCase());
  return [...aliases, `--${name}`].join(", ") + hint;
};

/** Lay out [left, right] rows in two columns, wrapping nothing (terminals wrap). */
function columns(rows: [string, string][], color: (s: string) => string): string[] {
  const w = Math.min(34, Math.max(...rows.map(([l]) => l.length)));
  return rows.map(([l, r]) => (l.length > w ? `  ${color(l)}\n  ${" ".repeat(w)}  ${r}` : `  ${color(l.padEnd(w))}  ${r}`));
}

/** The generated usage form of a command: `[OPTIONS] <KEY> --ttl DURATION`. */
async function usageForm(cmd: CommandDef<any>, hasSubs: boolean): Promise<string> {
  const parts: string[] = [];
  if (hasSubs) return "<COMMAND>";
  const args = await argsOf(cmd);
  if (Object.values(args).some((d) => d.type !== "positional")) parts.push("[OPTIONS]");
  for (const p of await positionalsOf(cmd)) parts.push(p.required ? `<${p.name.toUpperCase()}>` : `[${p.name.toUpperCase()}]`);
  for (const [name, d] of Object.entries(args)) if (d.type !== "positional" && (d as any).required) parts.push(flagLabel(name, d));
  return parts.join(" ");
}

/** The usage lines of the command at `path`: `hush kv get [OPTIONS] <KEY>`. */
export async function usageLines(cmd: CommandDef<any>, path: string[]): Promise<string[]> {
  const name = ["hush", ...path].join(" ");
  const hasSubs = Object.keys(await subCommandsOf(cmd)).length > 0;
  return (HELP[path.join(" ")]?.usage ?? [await usageForm(cmd, hasSubs)]).map((f) => `${name}${f ? " " + f : ""}`);
}

/** The full help page of the command at `path` (words under `hush`). */
export async function renderHelp(cmd: CommandDef<any>, path: string[], stream: MaybeTty = process.stdout): Promise<string> {
  const c = palette(stream);
  const name = ["hush", ...path].join(" ");
  const page = HELP[path.join(" ")];
  const subs = await subCommandsOf(cmd);
  const hasSubs = Object.keys(subs).length > 0;
  const out: string[] = [`${c.bold(name)} — ${await describe(cmd)}`, ""];

  out.push(c.bold("USAGE"));
  for (const u of await usageLines(cmd, path)) out.push(`  ${u}`);
  out.push("");

  const pos = await positionalsOf(cmd);
  if (pos.length) {
    out.push(c.bold("ARGUMENTS"), ...columns(pos.map((p) => [p.name.toUpperCase(), p.description + (p.required ? "" : " (optional)")]), c.cyan), "");
  }
  const flags: [string, string][] = [];
  for (const [n, d] of Object.entries(await argsOf(cmd))) {
    if (d.type === "positional") continue;
    flags.push([flagLabel(n, d), (d.description ?? "") + ((d as any).required ? c.dim(" (required)") : "")]);
    if (d.type === "boolean" && d.default === true && d.negativeDescription) flags.push([`--no-${n}`, d.negativeDescription]);
  }
  flags.push(["-h, --help", "show this help"]);
  if (!hasSubs) out.push(c.bold("OPTIONS"), ...columns(flags, c.cyan), "");

  if (hasSubs) {
    const rows: [string, string][] = [];
    for (const [n, sub] of Object.entries(subs)) rows.push([n, await describe(sub)]);
    out.push(c.bold("COMMANDS"), ...columns(rows, c.cyan), "", `Run ${c.cyan(`${name} <COMMAND> --help`)} for a command's options and examples.`, "");
  }
  if (page?.about) out.push(page.about, "");
  if (page?.examples.length) {
    out.push(c.bold("EXAMPLES"));
    for (const e of page.examples) {
      const i = e.indexOf("  #");
      out.push(i < 0 ? `  ${e}` : `  ${e.slice(0, i)}${c.dim(e.slice(i))}`);
    }
    out.push("");
  }
  return out.join("\n");
}

/**
 * How the user can run this binary again from here: `hush` when it is the
 * `hush` on $PATH, else its path (`./dist/hush` from a checkout after
 * `npm start`). For hints that print a command to copy.
 */
export function invokedName(env: Record<string, string | undefined> = process.env): string {
  const self = process.execPath;
  if (basename(self) !== "hush" && basename(self) !== "hush.exe") return "hush"; // not a compiled hush (bun cmd/main.ts)
  try {
    const found = Bun.which("hush", { PATH: env.PATH ?? "" });
    if (found && realpathSync(found) === realpathSync(self)) return "hush";
  } catch {}
  const rel = relative(process.cwd(), self);
  return rel.startsWith("..") || isAbsolute(rel) ? self : "./" + rel;
}
