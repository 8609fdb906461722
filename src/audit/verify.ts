/**
 * Offline verification of an audit log (PROTOCOL.md §9.8, DESIGN.md
 * invariant 6). Pure: bytes in, a report out.
 *
 * Always checked: every line is a UTF-8 JSON object ending in a newline; the
 * first line is a `start` line; `seq` runs 1, 2, 3… across the whole file
 * (a run continues the previous run's numbering); `prev` is the SHA-256 of
 * the previous line; line types and fields are well formed; seal epochs
 * follow each other, and nothing but the closing seal follows a `stop` line.
 *
 * With the verification key (format 2, `hush keygen audit`): every seal's
 * MAC, under the key of the epoch the verifier expects; epochs without a gap
 * from `firstEpoch` (default 0) across every run; one key for the file. A
 * thief of the daemon's sealing state at epoch n can seal only epochs ≥ n,
 * so every line up to the seal of epoch n − 1 is vouched for: the report's
 * `vouched` names that range. With the format-1 secret key (hush 0.1.0):
 * those runs' seals, as before, with a warning that they are weaker.
 *
 * What no key can show: lines after the last seal (`unsealed`,
 * `unsealedTail`); lines after the point where the sealing state was stolen;
 * a file cut right after a seal (it looks like a crash: every run without a
 * `stop` line is listed in `notStopped`, and `requireClosed` fails on any);
 * a daemon that logs lies because it is already compromised.
 *
 * `error.seq` names where the log goes wrong: the seq expected at that
 * position (a gap, a swap, a foreign line), the repeated seq (a duplicate),
 * the changed line (its hash does not match the next line's `prev`), or the
 * seal or start line whose MAC, epoch or key fails.
 *
 * Parts: the line walk (verify-lines.ts), the seal checks (verify-seals.ts);
 * here, the entry point and the whole-file rules.
 * @module
 */
import { SealChain } from "./sealing.ts";
import { Break, type ChainState, type SealFormat } from "./verify-seals.ts";
import { LineWalk } from "./verify-lines.ts";

export interface VerifyOptions {
  /** The verification key (format 2: the 32-byte seed from `hush keygen audit`): check format-2 seals. */
  verifyKey?: Uint8Array;
  /** The format-1 X25519 audit secret key (hush 0.1.0): check format-1 seals. */
  auditSecretKey?: Uint8Array;
  /** The daemon has stopped: every run must have its `stop` line, and the file must end with the closing seal. */
  requireClosed?: boolean;
  /** With a key, accept runs written without sealing (they count as unsealed). */
  allowUnsealedRuns?: boolean;
  /** The epoch the first format-2 run must start at (default 0; a file that continues another: that file's `nextEpoch`). */
  firstEpoch?: number;
}

export interface VerifyError {
  /** The seq where the log goes wrong (null when there is none, e.g. an empty file). */
  seq: number | null;
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface RunReport {
  startSeq: number;
  endSeq: number;
  sealing: SealFormat;
  keyId?: string;
  /** Epochs of its seals (format 2: counted across runs; format 1: from 0 in each run). */
  epochs: { from: number; to: number } | null;
  /** Its seals' MACs were checked with a key. */
  checked: boolean;
  stopped: boolean;
  closed: boolean;
}

export interface VerifyResult {
  ok: boolean;
  /** Lines that passed every check. */
  lines: number;
  /** Seal lines seen (their MACs checked only when `sealsChecked`). */
  seals: number;
  /** A key was given, so seals of its format were checked. */
  sealsChecked: boolean;
  lastSeq: number | null;
  lastSealedSeq: number | null;
  /** Lines after the last seal of the file. */
  unsealedTail: number;
  /** seq ranges not covered by any seal: run tails (live or crashed) and unsealed runs. */
  unsealed: { from: number; to: number }[];
  runs: number;
  runList: RunReport[];
  /** Runs without a `stop` line: crashed, cut, or (the last) still running. */
  notStopped: { from: number; to: number }[];
  /** The last run ended with its `stop` line (and closing seal when sealed). */
  closed: boolean;
  /** With the verification key: every line up to `toSeq` is vouched for by format-2 seals of `epochs`. */
  vouched: { toSeq: number; epochs: { from: number; to: number }; fromTs: number; toTs: number } | null;
  /** Format-2 epochs whose seal was never written, each before the run that starts at `beforeSeq` (PROTOCOL.md §9.4). */
  skippedEpochs: { epoch: number; beforeSeq: number }[];
  /** The epoch a format-2 run appended to this file (or the first run of the next file) must start at. */
  nextEpoch: number | null;
  /** Things to know that are not breaks (weaker format-1 seals, unchecked runs). */
  warnings: string[];
  error?: VerifyError;
}

/** Verify an audit log. Never throws on bad input: the report says what broke. */
export function verifyAuditLog(input: string | Uint8Array, opts: VerifyOptions = {}): VerifyResult {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const r = emptyResult(opts.verifyKey !== undefined || opts.auditSecretKey !== undefined);
  const g: ChainState = { chain: opts.verifyKey ? new SealChain(opts.verifyKey) : null, keyId: null, nextEpoch: 0, seen: false, skipped: [] };
  const walk = new LineWalk(r, opts, g);
  try {
    walk.all(bytes);
    finish(r, opts, g, walk.prevSeq);
  } catch (e) {
    if (!(e instanceof Break)) throw e;
    walk.abandon();
    r.ok = false;
    if (!e.whole) r.lines = Math.max(0, e.line - 1);
    r.closed = false;
    r.error = { seq: e.seq, line: e.line, reason: e.reason };
  }
  g.chain?.wipe();
  r.lastSeq = walk.prevSeq || null;
  r.unsealedTail = r.lastSealedSeq === null ? r.lines : walk.prevSeq - r.lastSealedSeq;
  r.nextEpoch = g.seen ? g.nextEpoch : null;
  return r;
}

function emptyResult(sealsChecked: boolean): VerifyResult {
  return {
    ok: true,
    lines: 0,
    seals: 0,
    sealsChecked,
    lastSeq: null,
    lastSealedSeq: null,
    unsealedTail: 0,
    unsealed: [],
    runs: 0,
    runList: [],
    notStopped: [],
    closed: false,
    vouched: null,
    nextEpoch: null,
    skippedEpochs: [],
    warnings: [],
  };
}

/** What a check without a key cannot see (the verifier's warning, and PROTOCOL.md §9.8). */
export const CHAIN_ONLY_WARNING =
  "CHAIN ONLY: seals were not checked. This catches a careless edit, but not a careful one: anyone who can write the file can " +
  "recompute every prev after changing, deleting or inserting lines, forge or re-make seals, cut off the end, or append a made-up run. " +
  "Pass --key-file with the verification key for that";

/** Whole-file rules, after every line passed; warnings. */
function finish(r: VerifyResult, opts: VerifyOptions, g: ChainState, lastSeq: number): void {
  if (!r.sealsChecked) r.warnings.push(CHAIN_ONLY_WARNING);
  const v1 = r.runList.filter((x) => x.sealing === "v1");
  const v2seals = r.runList.some((x) => x.sealing === "v2" && x.epochs !== null);
  if (opts.verifyKey) requireFormat2(r, g, v1.length > 0, lastSeq);
  r.skippedEpochs = g.skipped;
  for (const s of g.skipped) {
    r.warnings.push(
      `epoch ${s.epoch} was skipped before the run at seq ${s.beforeSeq}: the run before it was not closed, and its seal of epoch ${s.epoch} is not in the file. ` +
        "Either the daemon stopped after it had replaced the sealing state and before it wrote that seal (a crash or kill at that moment), or someone holding a later sealing state cut the lines that seal covered; the key cannot tell which",
    );
  }
  if (opts.requireClosed && g.skipped.length > 0) {
    throw new Break(g.skipped[0].beforeSeq, r.lines, `epoch ${g.skipped[0].epoch} was skipped before the run at seq ${g.skipped[0].beforeSeq} (its seal is not in the file): the file was not closed cleanly`, true);
  }
  if (v1.length > 0) {
    const where = `run${v1.length === 1 ? "" : "s"} at seq ${v1.map((x) => x.startSeq).join(", ")}`;
    const covered = v2seals && g.chain ? `; every line of them is also covered by the verified format-2 seal at seq ${r.vouched?.toSeq ?? "?"}` : "";
    r.warnings.push(`${where} use${v1.length === 1 ? "s" : ""} the old sealing (format 1, hush 0.1.0), whose seals are weaker: anyone with the audit public key can re-seal such a run${v1.some((x) => !x.checked) ? " (not checked: no format-1 key given)" : ""}${covered}`);
  }
  if (opts.requireClosed) {
    if (r.lines === 0) throw new Break(null, 0, "the file is empty", true);
    const open = r.notStopped.filter((x) => x.to !== lastSeq);
    if (open.length > 0) {
      const list = open.map((x) => `seq ${x.from}..${x.to}`).join(", ");
      throw new Break(open[0].to, r.lines, `run${open.length === 1 ? "" : "s"} without a stop line (${list}): the daemon crashed, or the run was cut and another appended`, true);
    }
    if (!r.runList.at(-1)?.closed) {
      throw new Break(lastSeq, r.lines, `the file ends at seq ${lastSeq} without its run's stop line and closing seal: it was truncated, or the daemon crashed or is still running`, true);
    }
  }
  r.closed = r.runList.at(-1)?.closed ?? false;
}

/**
 * With the verification key, the file must hold at least one verified
 * format-2 seal. A daemon with a sealing state writes its start line and
 * start seal before anything else of its run, and never a format-1 or an
 * unsealed run after a format-2 one (startRun refuses those as downgrades),
 * so a file without such a seal either has not been sealed with this key yet
 * — and then the verification key has nothing to check — or had its format-2
 * runs rewritten as format 1 or stripped of their seals. Which one, the
 * verifier cannot tell; it refuses, and says how to check a file that was
 * never migrated.
 */
function requireFormat2(r: VerifyResult, g: ChainState, hasV1: boolean, lastSeq: number): void {
  if (r.vouched !== null) return;
  if (g.seen) {
    const run = r.runList.find((x) => x.sealing === "v2")!;
    throw new Break(run.startSeq, r.lines, `the format-2 run at seq ${run.startSeq} has no seal, so nothing in this file is vouched for: it was cut right after that run's start line, or the daemon died while it started (its next start seals the file)`, true);
  }
  const what = r.lines === 0 ? "the file is empty" : hasV1 ? "its runs use format 1 (hush 0.1.0) or none" : "its runs are not sealed";
  throw new Break(
    lastSeq || null,
    r.lines,
    `no run of this file is sealed in format 2 although the verification key was given (${what}): its format-2 runs were rewritten as format 1 or stripped of their seals (a downgrade), ` +
      "or no daemon has sealed this file with this key yet; a file that was never sealed in format 2: verify it with the format-1 key alone (HUSH-AUDIT-KEY-1…), or without a key",
    true,
  );
}

