/**
 * Credential sources read at start (fail fast: any bad source stops the
 * start with a clear error that never contains a value):
 *
 *   --creds-file FILE          JSON object or dotenv (NAME=value lines)
 *   --cred NAME=env:VAR        the value of an environment variable
 *   --cred NAME=file:PATH      the contents of a file (one trailing newline dropped)
 *   --cred NAME=exec:COMMAND   the stdout of `sh -c COMMAND` (exit 0 required; its process group ends with it)
 *
 * JSON entries may be a string or `{"value"|"values", "allow", "mode"}`;
 * `--cred-allow NAME=tag,tag` sets the allow-list of a --cred source.
 * @module
 */
import { readTrustedFile } from "../os/file-trust.ts";
import { HushError } from "../errors.ts";
import { utf8 } from "../crypto/index.ts";
import { SECRET_ENV, childEnv } from "../os/env.ts";
import { endGroup } from "../os/group.ts";
import { parseList } from "../config/index.ts";

export interface LoadedCred {
  name: string;
  values: Uint8Array[];
  allow: string[];
  mode: "shared" | "exclusive";
  source: string;
  /** Warnings about the source (a `file:` readable by its group). */
  warnings?: string[];
}

const NAME_RE = /^[A-Za-z0-9._:\/-]{1,256}$/;

/** The fields of a JSON creds-file entry; any other is refused. */
const ENTRY_FIELDS = ["value", "values", "allow", "mode"];

function bad(msg: string): never {
  throw new HushError("invalid_request", msg);
}

function trimNewline(s: string): string {
  return s.endsWith("\r\n") ? s.slice(0, -2) : s.endsWith("\n") ? s.slice(0, -1) : s;
}

/** Parse a creds file: JSON when it starts with `{`, else dotenv. */
export function parseCredsFile(text: string, file: string): LoadedCred[] {
  const out: LoadedCred[] = [];
  if (text.trimStart().startsWith("{")) {
    let obj: any;
    try {
      obj = JSON.parse(text);
    } catch {
      bad(`${file}: not valid JSON`);
    }
    for (const name of Object.keys(obj)) {
      if (!NAME_RE.test(name)) bad(`${file}: bad credential name ${JSON.stringify(name)}`);
      const e = obj[name];
      let values: unknown[];
      let allow: string[] = [];
      let mode: "shared" | "exclusive" = "shared";
      if (typeof e === "string") values = [e];
      else if (e && typeof e === "object" && !Array.isArray(e)) {
        // A misspelt field ("alow") would otherwise be dropped, and the credential allowed to nobody.
        const unknown = Object.keys(e).filter((k) => !ENTRY_FIELDS.includes(k));
        if (unknown.length) bad(`${file}: ${name}: unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")} (an entry has ${ENTRY_FIELDS.join(", ")})`);
        if ("value" in e && "values" in e) bad(`${file}: ${name}: give "value" or "values", not both`);
        values = Array.isArray(e.values) ? e.values : [e.value];
        if (e.allow !== undefined) allow = e.allow;
        if (e.mode !== undefined) mode = e.mode;
      } else bad(`${file}: ${name}: expected a string or an object`);
      if (!values!.every((v) => typeof v === "string" && v.length > 0)) bad(`${file}: ${name}: values must be non-empty strings`);
      out.push({ name, values: (values! as string[]).map(utf8), allow, mode, source: `file:${file}` });
    }
    return out;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z0-9._:\/-]{1,256})\s*=\s*(.*)$/.exec(t);
    if (!m) bad(`${file}:${i + 1}: expected NAME=value`);
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"') && v.length >= 2) || (v.startsWith("'") && v.endsWith("'") && v.length >= 2)) v = v.slice(1, -1);
    if (!v) bad(`${file}:${i + 1}: ${m[1]} has an empty value`);
    out.push({ name: m[1], values: [utf8(v)], allow: [], mode: "shared", source: `file:${file}` });
  });
  return out;
}

/** Resolve one `--cred NAME=KIND:ARG` spec. `abort` kills a running `exec:` command (a stop signal during start-up). */
export async function loadCredSpec(spec: string, env: Record<string, string | undefined> = process.env, abort?: AbortSignal): Promise<LoadedCred> {
  const m = /^([A-Za-z0-9._:\/-]{1,256})=(env|file|exec):(.+)$/s.exec(spec);
  if (!m) {
    // Never quote what follows "=": on a mistyped spec it may be the secret itself.
    const eq = spec.indexOf("=");
    const name = spec.slice(0, eq);
    const why =
      eq < 0 ? 'it has no "="' : !/^[A-Za-z0-9._:\/-]{1,256}$/.test(name) ? 'the name before "=" must be 1–256 of A-Z a-z 0-9 . _ : / -' : `${JSON.stringify(name + "=")} must be followed by env:, file: or exec:`;
    bad(`--cred: expected NAME=env:VAR, NAME=file:PATH or NAME=exec:COMMAND (${why})`);
  }
  const [, name, kind, arg] = m;
  let value: string;
  let warnings: string[] | undefined;
  if (kind === "env") {
    const v = env[arg];
    if (v === undefined || v === "") bad(`--cred ${name}: environment variable ${arg} is not set or empty`);
    value = v;
  } else if (kind === "file") {
    const r = readTrustedFile(arg, { what: `--cred ${name}=file:`, risk: "they could have chosen the credential's value", readable: "refuse" });
    value = trimNewline(new TextDecoder().decode(r.bytes));
    r.bytes.fill(0);
    warnings = r.warnings;
    if (!value) bad(`--cred ${name}: ${arg} is empty`);
  } else {
    value = await _runExec(name, arg, env, abort);
  }
  return { name, values: [utf8(value)], allow: [], mode: "shared", source: kind === "exec" ? "exec" : `${kind}:${arg}`, ...(warnings?.length ? { warnings } : {}) };
}

/** How long an `exec:` command may run, and how long its group gets between SIGTERM and SIGKILL. */
export const EXEC_LIMITS = { timeoutMs: 30_000, graceMs: 2_000 };

/**
 * The stdout of `sh -c COMMAND` for an `exec:` source: exit 0 within
 * `EXEC_LIMITS.timeoutMs` and a non-empty value required. Its stderr is
 * discarded (it might echo the secret). The command runs in a process group
 * of its own, and that whole group is ended (SIGTERM, SIGKILL after a grace)
 * whenever the command is done with: on `abort`, on the timeout, and after
 * `sh` exits (what it left running in the background). Nothing it started
 * outlives the start-up, except what moved itself to another session.
 */
async function _runExec(name: string, command: string, env: Record<string, string | undefined>, abort?: AbortSignal): Promise<string> {
  // The command never sees hush's own secrets (server key, credentials, tokens).
  const p = Bun.spawn(["sh", "-c", command], { stdin: "ignore", stdout: "pipe", stderr: "ignore", env: childEnv(env, {}, SECRET_ENV), detached: true });
  let why: string | undefined;
  let stopped!: () => void;
  const stop = new Promise<undefined>((r) => (stopped = () => r(undefined)));
  const end = (reason: string) => {
    why ??= reason;
    stopped();
  };
  const timer = setTimeout(() => end(`did not finish within ${EXEC_LIMITS.timeoutMs / 1000} s`), EXEC_LIMITS.timeoutMs);
  const onAbort = () => end("was stopped: hush is shutting down");
  abort?.addEventListener("abort", onAbort, { once: true });
  if (abort?.aborted) onAbort();
  // Once sh has exited, what it left behind goes too (it may hold the pipe open).
  const exited = p.exited.then(async (code) => (await endGroup(p.pid, EXEC_LIMITS.graceMs), code));
  try {
    const r = await Promise.race([Promise.all([new Response(p.stdout).text(), exited]), stop]);
    if (why || !r) bad(`--cred ${name}: the command ${why}`);
    if (r[1] === 127) bad(`--cred ${name}: command not found (sh exited with status 127)`);
    if (r[1] === 126) bad(`--cred ${name}: the command could not be run: not executable (sh exited with status 126)`);
    if (r[1] !== 0) bad(`--cred ${name}: command exited with status ${r[1]}`);
    const value = trimNewline(r[0]);
    if (!value) bad(`--cred ${name}: command printed nothing`);
    return value;
  } finally {
    clearTimeout(timer);
    abort?.removeEventListener("abort", onAbort);
    await endGroup(p.pid, EXEC_LIMITS.graceMs);
  }
}

/** `--cred-allow NAME=tag,tag` → name → tags. */
export function parseAllowSpecs(specs: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const s of specs) {
    const i = s.indexOf("=");
    if (i <= 0) bad(`--cred-allow: expected NAME=tag,tag, got ${JSON.stringify(s)}`);
    const name = s.slice(0, i);
    if (m.has(name)) bad(`--cred-allow ${name} is given twice`);
    if (s.slice(i + 1).trim() === "") bad(`--cred-allow ${name}= has no tags; leave it out to allow nobody (the default)`);
    m.set(name, parseList(s.slice(i + 1), `--cred-allow ${name}`));
  }
  return m;
}

/** Every value of `--opt` in argv (citty keeps only the last one). */
export function collectRepeated(rawArgs: string[], opt: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === opt && i + 1 < rawArgs.length) out.push(rawArgs[++i]);
    else if (a.startsWith(opt + "=")) out.push(a.slice(opt.length + 1));
  }
  return out;
}
