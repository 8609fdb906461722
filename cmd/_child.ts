/**
 * The command after `--` of `hush run`, `hush join` and `hush checkout`:
 * found before anything is spent on it (a join token use, a checkout, a
 * daemon), started with extra environment, its stop signals forwarded, and
 * its exit code passed through. A command that cannot be found exits 127
 * and one that cannot be run 126, as in a shell.
 * @module
 */
import { accessSync, statSync, constants as fsc } from "node:fs";
import { constants as osc } from "node:os";
import { childEnv } from "../src/os/env.ts";
import { withCallerLimits } from "../src/os/harden.ts";
import { CommandError } from "./_report.ts";

const BUILTINS = new Set(["cd", "export", "source", ".", "alias", "set", "unset", "exit", "eval", "exec", "ulimit", "umask", "type", "shopt", "trap", "read", "wait"]);

/** The error for a command that cannot be started (code from the spawn error or the check). */
function cannotStart(name: string, why: "ENOENT" | "EACCES" | "EISDIR" | string): CommandError {
  if (why === "ENOENT") {
    const builtin = BUILTINS.has(name);
    const hint = builtin
      ? `${name} is a shell builtin, not a program: run it in a shell, e.g. -- sh -c '${name} …'`
      : name.includes("/")
        ? "check the path"
        : "check the name and $PATH (a program in this directory needs ./ in front)";
    return new CommandError(`command not found: ${name}`, hint, true);
  }
  if (why === "EISDIR") return new CommandError(`cannot run ${name}: it is a directory`, undefined, false);
  if (why === "EACCES") return new CommandError(`cannot run ${name}: permission denied (not executable)`, `chmod +x ${name}, or run it with its interpreter (sh ${name})`, false);
  return new CommandError(`cannot run ${name}: ${why}`, undefined, false);
}

/**
 * Check that `cmd[0]` can be started, the way the spawn will look for it
 * (a name with a `/` as a path, else on $PATH). Throws CommandError (exit
 * 127 or 126). The command may still disappear before it starts; runChild
 * reports that the same way.
 */
export function checkCommand(cmd: string[]): void {
  const name = cmd[0] ?? "";
  if (name === "") throw cannotStart(name, "ENOENT");
  if (!name.includes("/")) {
    if (Bun.which(name, { PATH: process.env.PATH ?? "" }) === null) throw cannotStart(name, "ENOENT");
    return;
  }
  try {
    if (statSync(name).isDirectory()) throw cannotStart(name, "EISDIR");
    accessSync(name, fsc.X_OK);
  } catch (e: any) {
    if (e instanceof CommandError) throw e;
    throw cannotStart(name, e?.code === "ENOENT" || e?.code === "ENOTDIR" ? "ENOENT" : e?.code === "EACCES" ? "EACCES" : String(e?.code ?? e));
  }
}

const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;

/**
 * Run a child command with `give` in its environment, forwarding
 * SIGINT/SIGTERM/SIGHUP; resolves to its exit code (128 + signal number when
 * a signal ended it). The child gets none of hush's secrets but `give`
 * (src/os/env.ts), nor the variables in `drop`, and the caller's umask and
 * core-file limit (this process runs with neither: src/os/harden.ts).
 */
export async function runChild(cmd: string[], give: Record<string, string>, drop: readonly string[] = []): Promise<number> {
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = withCallerLimits(() => Bun.spawn(cmd, { stdio: ["inherit", "inherit", "inherit"], env: childEnv(process.env, give, drop) }));
  } catch (e: any) {
    throw cannotStart(cmd[0] ?? "", e?.code ?? e?.message ?? String(e));
  }
  const handlers = (Object.keys(SIGNALS) as (keyof typeof SIGNALS)[]).map((s) => [s, () => child.kill(SIGNALS[s])] as const);
  for (const [s, h] of handlers) process.on(s, h);
  try {
    const code = await child.exited;
    if (child.signalCode) return 128 + ((osc.signals as Record<string, number>)[child.signalCode] ?? 1);
    return code;
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
}

/**
 * Environment names a credential must not be put in (`hush checkout --env`):
 * they change which program runs or how it starts (PATH, the dynamic
 * loader, shell start-up files, language runtimes' option variables), or
 * hush's own variables that the command needs.
 */
const UNSAFE_ENV = /^(PATH|IFS|ENV|BASH_ENV|CDPATH|SHELLOPTS|BASHOPTS|GLOBIGNORE|PS4|PROMPT_COMMAND|HOME|SHELL|TMPDIR|PWD|LD_\w*|DYLD_\w*|NODE_OPTIONS|NODE_PATH|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PERL5OPT|PERL5LIB|RUBYOPT|RUBYLIB|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|GCONV_PATH|MALLOC_\w*|HUSH_\w*)$/;

/** Is `name` an environment variable that must not carry a credential? */
export function isUnsafeEnvName(name: string): boolean {
  return UNSAFE_ENV.test(name);
}
