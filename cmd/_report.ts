/**
 * How the CLI reports a failure: one `hush: error: …` line and, where it
 * helps, one `hush: hint: …` line on stderr, or with `--json` one JSON
 * object `{"error": CODE, "message": …, "hint": …}` on stderr; the exit
 * code is the same either way (README "Exit codes").
 *
 * Messages are put in the user's words, not the wire's: `ttl_ms` becomes
 * `--ttl`, milliseconds become durations. No message ever holds a secret
 * (the errors thrown below hush never carry one, and nothing here adds one).
 * @module
 */
import { HushError, type ErrorCode } from "../src/errors.ts";
import { formatDuration } from "../src/config/index.ts";
import { palette } from "./_color.ts";
import { EXIT } from "./_shared.ts";

/** A command-line mistake (unknown flag or command, missing or extra argument): exit 2, code `usage`. */
export class UsageError extends Error {
  override readonly name: string = "UsageError";
  readonly code: string = "usage";
  readonly exit: number = EXIT.usage;
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * The command after `--` cannot be started: exit 127 (`command_not_found`)
 * or 126 (`command_not_executable`), as a shell would.
 */
export class CommandError extends UsageError {
  override readonly name = "CommandError";
  override readonly code: string;
  override readonly exit: number;
  constructor(message: string, hint: string | undefined, notFound: boolean) {
    super(message, hint);
    this.code = notFound ? "command_not_found" : "command_not_executable";
    this.exit = notFound ? 127 : 126;
  }
}

/** What is printed for a failure, and the exit code. */
export interface Problem {
  /** A protocol error code (docs/PROTOCOL.md §1), `usage` for a command-line mistake, or `command_not_found` / `command_not_executable`. */
  code: ErrorCode | string;
  message: string;
  hint?: string;
  exit: number;
}

const CODE_EXIT: Partial<Record<ErrorCode, number>> = {
  invalid_request: EXIT.usage,
  ttl_required: EXIT.usage,
  invalid_ttl: EXIT.usage,
  too_large: EXIT.usage,
  not_found: EXIT.notFound,
  conflict: EXIT.conflict,
  max_items: EXIT.conflict,
  auth_failed: EXIT.auth,
  rekey_required: EXIT.auth,
  forbidden: EXIT.auth,
  unavailable: EXIT.unavailable,
  busy: EXIT.unavailable,
  rate_limited: EXIT.unavailable,
};

const HINTS: Partial<Record<string, string>> = {
  "no credential given": "set HUSH_CREDENTIAL or pass --credential-file FILE (from `hush workers issue`)",
  ttl_required: "pass --ttl, e.g. --ttl 10m",
  "lock is held": "pass --wait DURATION (e.g. --wait 30s) to wait for it",
  "pool is exhausted": "pass --wait DURATION (e.g. --wait 30s) to wait for a free slot",
  auth_failed: "the credential may be revoked, expired or for another daemon; issue a new one with `hush workers issue`",
  rekey_required:
    "the admin asked this worker to rotate its key: join again (`hush join`) for a fresh credential, or use an SDK client that owns the credential (it rotates by itself, or when you call `client.rekey()`)",
};

const UNTRUSTED_SOCKET_HINT =
  "another user may have made this path to receive your requests: remove it if it is not yours, or choose a private path (--socket, $HUSH_SOCKET, $XDG_RUNTIME_DIR). " +
  "If the daemon runs as another user (a service user with --socket-group), name it with --socket-owner USER or $HUSH_SOCKET_OWNER";

/** Wire field names (and the SDK's option names for them) as the user typed them. */
const FLAG_OF_FIELD: [RegExp, string][] = [
  [/\bworker_ttl_ms\b/g, "--worker-ttl"],
  [/\bttl_ms\b/g, "--ttl"],
  [/\bttlMs\b/g, "--ttl"],
];

/** Put a daemon or SDK message in the CLI's words. */
export function inUserWords(e: HushError): string {
  if (e.code === "rekey_required") return "this worker's key must be rotated before it can be used again";
  let m = e.message;
  // "ttl_ms must be a positive integer ≤ 86400000" → "--ttl must be a positive duration of at most 24h"
  m = m.replace(/\b(\w*ttl_ms) must be a positive integer ≤ (\d+)(?: \([^)]*\))?/, (_, f, n) => `${f} must be a positive duration of at most ${formatDuration(Number(n))}`);
  m = m.replace(/\b(\w*ttl_ms) must be a positive integer\b/, "$1 must be a positive duration");
  for (const [re, flag] of FLAG_OF_FIELD) m = m.replace(re, flag);
  return m;
}

/** Describe any thrown value as a Problem. */
export function describeError(e: unknown): Problem {
  if (e instanceof UsageError) return { code: e.code, message: e.message, hint: e.hint, exit: e.exit };
  if (e instanceof HushError) {
    let hint: string | undefined;
    if (typeof e.detail.hint === "string") hint = e.detail.hint;
    else if (e.detail.untrustedSocket) hint = UNTRUSTED_SOCKET_HINT;
    else if (e.detail.addresses) hint = "none of the daemons listed (--url, $HUSH_URL or the file's # addresses line) could be reached: are they running?";
    else if (e.code === "unavailable" && e.detail.sent === true) hint = "the daemon may have carried the request out before the connection broke: check before repeating a change (a read is safe to repeat)";
    else if (e.detail.connect) hint = "is `hush serve` running? pass --socket PATH or set HUSH_SOCKET (or --url for a remote controller)";
    else if (e.detail.pinMismatch) hint = "this is not the controller that made your token/credential, or its TLS key changed: compare the pin `hush serve` printed; --tls-pin overrides";
    else hint = HINTS[e.message] ?? (e.message.startsWith("join refused") ? "ask the admin for a new token (`hush token create`)" : HINTS[e.code]);
    return { code: e.code, message: inUserWords(e), hint, exit: CODE_EXIT[e.code] ?? EXIT.error };
  }
  if ((e as any)?.name === "CLIError") return { code: "usage", message: (e as Error).message, exit: EXIT.usage };
  return { code: "internal", message: (e as Error)?.message ?? String(e), exit: EXIT.error };
}

/** Print a Problem on stderr: two text lines, or one JSON object with --json. */
export function printProblem(p: Problem, json: boolean): void {
  if (json) {
    process.stderr.write(JSON.stringify({ error: p.code, message: p.message, ...(p.hint ? { hint: p.hint } : {}) }) + "\n");
    return;
  }
  const c = palette(process.stderr);
  process.stderr.write(`hush: ${c.red("error")}: ${p.message}\n`);
  if (p.hint) process.stderr.write(`hush: ${c.yellow("hint")}: ${p.hint}\n`);
}

/** Print `e` and return its exit code. */
export function reportError(e: unknown, json = false): number {
  const p = describeError(e);
  printProblem(p, json);
  return p.exit;
}
