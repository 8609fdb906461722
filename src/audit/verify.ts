/**
 * Offline verification of an audit log (PROTOCOL.md §9, DESIGN.md invariant
 * 6). Pure: bytes in, a report out.
 *
 * Always checked: every line is a UTF-8 JSON object ending in a newline; the
 * first line is a `start` line; `seq` runs 1, 2, 3… across the whole file
 * (a run continues the previous run's numbering); `prev` is the SHA-256 of
 * the previous line; line types and fields are well formed; within a run,
 * seals carry epochs 0, 1, 2… and nothing but the closing seal follows a
 * `stop` line.
 *
 * With the audit secret key: each run's k0 is opened from its `start` line
 * and every seal's MAC is checked with the ratcheted key of the epoch the
 * verifier expects (not the one the line claims), so a seal cannot be moved
 * to another position, epoch or run. Every run must then be sealed (a run
 * without a key is a downgrade unless `allowUnsealedRuns`).
 *
 * What sealing cannot show: lines after the last seal of a run (reported in
 * `unsealed` and `unsealedTail`); a truncated file (it ends like a live or
 * crashed one — pass `requireClosed` when the daemon has stopped, so the file
 * must end with `stop` + closing seal); and a whole run, or a whole file,
 * rewritten under a new k0, since anyone with the audit *public* key can make
 * one. Keeping a copy of the log (or just its seal lines) on another host,
 * e.g. with `hush audit tail -f`, closes that gap.
 *
 * `error.seq` names where the log goes wrong: the seq expected at that
 * position (a gap, a swap, a foreign line), the repeated seq (a duplicate),
 * the changed line (its hash does not match the next line's `prev`), or the
 * seal whose MAC or epoch fails.
 * @module
 */
import { fromB64u, fromUtf8, wipe } from "../crypto/index.ts";
import { openBox } from "../crypto/box.ts";
import { K0_BOX_CONTEXT, ZERO_PREV, lineHash, ratchetKey, sealMac } from "./hash.ts";

export interface VerifyOptions {
  /** The X25519 audit secret key (`hush keygen audit`): check seals too. */
  auditSecretKey?: Uint8Array;
  /** The daemon has stopped: the file must end with a run's `stop` + closing seal. */
  requireClosed?: boolean;
  /** With a secret key, accept runs written without sealing (they count as unsealed). */
  allowUnsealedRuns?: boolean;
}

export interface VerifyError {
  /** The seq where the log goes wrong (null when there is none, e.g. an empty file). */
  seq: number | null;
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Lines that passed every check. */
  lines: number;
  /** Seal lines seen (their MACs checked only when `sealsChecked`). */
  seals: number;
  sealsChecked: boolean;
  lastSeq: number | null;
  lastSealedSeq: number | null;
  /** Lines after the last seal of the file. */
  unsealedTail: number;
  /** seq ranges not covered by any seal: run tails (live or crashed) and unsealed runs. */
  unsealed: { from: number; to: number }[];
  runs: number;
  /** The last run ended with its `stop` line (and closing seal when sealed). */
  closed: boolean;
  error?: VerifyError;
}

const TYPES = new Set(["start", "event", "seal", "stop", "dropped"]);
const RESULTS = new Set(["ok", "denied", "error"]);
const EVENT_STRINGS = ["actor", "via", "action", "target", "reason", "corr_id"];

interface Run {
  startSeq: number;
  sealed: boolean;
  key: Uint8Array | null;
  epoch: number;
  lastSealSeq: number | null;
  firstUnsealed: number | null;
  stopped: boolean;
  closed: boolean;
}

class Break extends Error {
  constructor(
    readonly seq: number | null,
    readonly line: number,
    readonly reason: string,
    /** Every line passed; the file as a whole is wrong (keep the line count). */
    readonly whole = false,
  ) {
    super(reason);
  }
}

const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;

/** Split into lines (without newlines); `partial` when the last one has none. */
function splitLines(bytes: Uint8Array): { lines: Uint8Array[]; partial: boolean } {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, i));
    start = i + 1;
  }
  const partial = start < bytes.length;
  if (partial) lines.push(bytes.subarray(start));
  return { lines, partial };
}

/** Verify an audit log. Never throws on bad input: the report says what broke. */
export function verifyAuditLog(input: string | Uint8Array, opts: VerifyOptions = {}): VerifyResult {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const secret = opts.auditSecretKey;
  const r: VerifyResult = {
    ok: true,
    lines: 0,
    seals: 0,
    sealsChecked: secret !== undefined,
    lastSeq: null,
    lastSealedSeq: null,
    unsealedTail: 0,
    unsealed: [],
    runs: 0,
    closed: false,
  };
  const { lines, partial } = splitLines(bytes);
  let run: Run | null = null;
  let prev = ZERO_PREV;
  let prevSeq = 0;
  const endRun = () => {
    if (run?.firstUnsealed != null) r.unsealed.push({ from: run.firstUnsealed, to: prevSeq });
    wipe(run?.key);
  };
  try {
    for (let i = 0; i < lines.length; i++) {
      const L = i + 1;
      const expect = prevSeq + 1;
      if (partial && i === lines.length - 1) throw new Break(expect, L, "the last line has no newline: the file was cut in the middle of a line");
      let o: any;
      let text = "";
      try {
        text = fromUtf8(lines[i]);
        o = JSON.parse(text);
      } catch {}
      if (o === null || typeof o !== "object" || Array.isArray(o)) throw new Break(expect, L, "not a JSON object (the line was changed or cut)");
      if (!Number.isSafeInteger(o.seq)) throw new Break(expect, L, "no valid seq");
      if (o.seq !== expect) {
        if (o.seq === prevSeq && prevSeq > 0) throw new Break(o.seq, L, `seq ${o.seq} appears twice (lines ${L - 1} and ${L}): a line was inserted or copied`);
        if (o.seq > expect) {
          const gap = o.seq - 1 > expect ? `${expect}..${o.seq - 1}` : `${expect}`;
          throw new Break(expect, L, `seq ${gap} missing (found ${o.seq}): lines were deleted or reordered`);
        }
        throw new Break(expect, L, `seq ${o.seq} where ${expect} was expected: a line was inserted, copied or moved here`);
      }
      if (o.prev !== prev) {
        if (L === 1) throw new Break(o.seq, L, "prev of the first line is not 32 zero bytes: the start of the file is missing or the line was changed");
        throw new Break(prevSeq, L - 1, `seq ${prevSeq} (line ${L - 1}) does not hash to the prev of seq ${o.seq}: it was changed (or seq ${o.seq}'s prev was)`);
      }
      if (typeof o.ts !== "number" || !Number.isFinite(o.ts)) throw new Break(o.seq, L, "ts is not a number");
      if (!TYPES.has(o.type)) throw new Break(o.seq, L, `unknown line type ${JSON.stringify(String(o.type)).slice(0, 40)}`);
      if (L === 1 && o.type !== "start") throw new Break(o.seq, L, "the first line is not a start line: the start of the file is missing");
      if (o.type === "start") {
        endRun();
        run = startRun(o, L, secret, opts.allowUnsealedRuns === true);
        r.runs++;
      } else {
        const cur = run!;
        if (cur.stopped && !(o.type === "seal" && cur.sealed && !cur.closed)) {
          throw new Break(o.seq, L, `a ${o.type} line after the run's stop line (run started at seq ${cur.startSeq})`);
        }
        if (o.type === "seal") {
          checkSeal(o, text, L, cur, secret);
          r.seals++;
          r.lastSealedSeq = o.seq;
        } else if (o.type === "stop") {
          cur.stopped = true;
          cur.closed = !cur.sealed;
        } else if (o.type === "event") {
          checkEvent(o, L);
        } else if (!isCount(o.count) || typeof o.since !== "number") {
          throw new Break(o.seq, L, "malformed dropped line");
        }
      }
      if (o.type !== "seal") run!.firstUnsealed ??= o.seq;
      prev = lineHash(lines[i]);
      prevSeq = o.seq;
      r.lines++;
    }
    endRun();
    r.lastSeq = prevSeq || null;
    r.unsealedTail = r.lastSealedSeq === null ? r.lines : prevSeq - r.lastSealedSeq;
    r.closed = (run as Run | null)?.closed ?? false;
    if (opts.requireClosed && !r.closed) {
      if (r.lines === 0) throw new Break(null, 0, "the file is empty", true);
      throw new Break(prevSeq, r.lines, `the file ends at seq ${prevSeq} without its run's stop line and closing seal: it was truncated, or the daemon crashed or is still running`, true);
    }
  } catch (e) {
    if (!(e instanceof Break)) throw e;
    wipe((run as Run | null)?.key);
    r.ok = false;
    if (!e.whole) r.lines = Math.max(0, e.line - 1);
    r.lastSeq = prevSeq || null;
    r.unsealedTail = r.lastSealedSeq === null ? r.lines : prevSeq - r.lastSealedSeq;
    r.closed = false;
    r.error = { seq: e.seq, line: e.line, reason: e.reason };
  }
  return r;
}

function startRun(o: any, L: number, secret: Uint8Array | undefined, allowUnsealed: boolean): Run {
  const run: Run = { startSeq: o.seq, sealed: false, key: null, epoch: 0, lastSealSeq: null, firstUnsealed: null, stopped: false, closed: false };
  if (o.key === undefined) {
    if (secret && !allowUnsealed) {
      throw new Break(o.seq, L, "this run is not sealed (no key in its start line) although an audit key was given: its seals were stripped, or the daemon ran without --audit-key");
    }
    return run;
  }
  if (typeof o.key !== "string" || o.epoch !== 0) throw new Break(o.seq, L, "malformed start line (key must be a string and epoch 0)");
  run.sealed = true;
  if (secret) {
    try {
      run.key = openBox(secret, fromB64u(o.key), K0_BOX_CONTEXT);
      if (run.key.length !== 32) throw new Error("bad length");
    } catch {
      throw new Break(o.seq, L, "the sealing key in this start line does not open with the given audit secret key (another key, or a forged line)");
    }
  }
  return run;
}

function checkSeal(o: any, text: string, L: number, run: Run, secret: Uint8Array | undefined): void {
  if (!run.sealed) throw new Break(o.seq, L, `a seal in a run without a sealing key (run started at seq ${run.startSeq})`);
  if (o.epoch !== run.epoch) {
    throw new Break(o.seq, L, `seal epoch ${JSON.stringify(o.epoch)} where ${run.epoch} was expected: a seal was dropped, replayed or moved`);
  }
  if (typeof o.mac !== "string" || !Number.isSafeInteger(o.ts)) throw new Break(o.seq, L, "malformed seal line");
  if (JSON.stringify({ seq: o.seq, ts: o.ts, type: o.type, prev: o.prev, epoch: o.epoch, mac: o.mac }) !== text) {
    throw new Break(o.seq, L, "seal line not in canonical form (seq, ts, type, prev, epoch, mac): it was changed");
  }
  if (secret) {
    const from = run.lastSealSeq === null ? run.startSeq : run.lastSealSeq + 1;
    if (sealMac(run.key!, o.seq, run.epoch, o.prev, o.ts) !== o.mac) {
      throw new Break(o.seq, L, `seal of epoch ${run.epoch} does not verify: a line in seq ${from}..${o.seq - 1} was changed, inserted, deleted or reordered, or the seal was moved or forged`);
    }
    const next = ratchetKey(run.key!);
    wipe(run.key);
    run.key = next;
  }
  run.epoch++;
  run.lastSealSeq = o.seq;
  run.firstUnsealed = null;
  if (run.stopped) run.closed = true;
}

function checkEvent(o: any, L: number): void {
  if (typeof o.action !== "string" || o.action === "") throw new Break(o.seq, L, "event without an action");
  for (const f of EVENT_STRINGS) if (o[f] !== undefined && typeof o[f] !== "string") throw new Break(o.seq, L, `event field ${f} is not a string`);
  if (o.result !== undefined && !RESULTS.has(o.result)) throw new Break(o.seq, L, "event result is not ok, denied or error");
  if (o.count !== undefined && !(isCount(o.count) && isCount(o.repeat_of) && o.repeat_of < o.seq)) throw new Break(o.seq, L, "malformed repeat count");
}
