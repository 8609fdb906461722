/**
 * The line walk of the audit verifier (PROTOCOL.md §9.8 steps 1–7): each
 * line in order — its place in the chain (`seq`, `prev`, `ts`, `type`),
 * the run it starts or belongs to, and its own form (event, dropped) —
 * with the seal checks of verify-seals.ts. Throws Break at the first line
 * that fails; the whole-file rules are verify.ts's.
 * @module
 */
import { fromUtf8, wipe } from "../crypto/index.ts";
import { ZERO_PREV, lineHash } from "./hash.ts";
import { Break, type ChainState, type Run, checkSeal, newRun, startRunV1, startRunV2 } from "./verify-seals.ts";
import type { VerifyOptions, VerifyResult } from "./verify.ts";

const TYPES = new Set(["start", "event", "seal", "stop", "dropped"]);
const RESULTS = new Set(["ok", "denied", "error"]);
const EVENT_STRINGS = ["actor", "via", "action", "target", "reason", "corr_id"];

const isCount = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;

/** Split into lines (without newlines); `partial` when the last one has none. */
export function splitLines(bytes: Uint8Array): { lines: Uint8Array[]; partial: boolean } {
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

/** Walks the lines of one file, filling the report `r`. */
export class LineWalk {
  /** The run the walk is in. */
  private run: Run | null = null;
  /** Hash of the last line that passed. */
  private prev = ZERO_PREV;
  /** seq of the last line that passed (0: none). */
  prevSeq = 0;
  private firstTs = 0;

  constructor(
    private readonly r: VerifyResult,
    private readonly opts: VerifyOptions,
    private readonly g: ChainState,
  ) {}

  /** Every line of the file, then the end of its last run. */
  all(bytes: Uint8Array): void {
    const { lines, partial } = splitLines(bytes);
    for (let i = 0; i < lines.length; i++) this.line(lines[i], i + 1, partial && i === lines.length - 1);
    this.endRun();
    this.run = null;
  }

  /** After a break: wipe the key of the run it happened in. */
  abandon(): void {
    wipe(this.run?.key);
  }

  /** File line L (`cut`: the file ends inside it). */
  private line(bytes: Uint8Array, L: number, cut: boolean): void {
    const expect = this.prevSeq + 1;
    if (cut) throw new Break(expect, L, "the last line has no newline: the file was cut in the middle of a line");
    let o: any;
    let text = "";
    try {
      text = fromUtf8(bytes);
      o = JSON.parse(text);
    } catch {}
    checkPlace(o, L, expect, this.prevSeq, this.prev);
    if (L === 1) this.firstTs = o.ts;
    if (o.type === "start") {
      this.endRun();
      this.run = startRun(o, L, this.opts, this.g, this.run);
      this.r.runs++;
    } else {
      this.inRun(o, text, L, this.run!);
    }
    if (o.type !== "seal") this.run!.firstUnsealed ??= o.seq;
    this.prev = lineHash(bytes);
    this.prevSeq = o.seq;
    this.r.lines++;
  }

  /** A line after its run's start line. */
  private inRun(o: any, text: string, L: number, cur: Run): void {
    if (cur.stopped && !(o.type === "seal" && cur.format !== "none" && !cur.closed)) {
      throw new Break(o.seq, L, `a ${o.type} line after the run's stop line (run started at seq ${cur.startSeq})`);
    }
    if (cur.startSealDue && o.type !== "seal") throw new Break(o.seq, L, `the start line of a sealed run (seq ${cur.startSeq}) must be followed by its start seal`);
    if (o.type === "seal") {
      checkSeal(o, text, L, cur, this.g);
      this.r.seals++;
      this.r.lastSealedSeq = o.seq;
      if (cur.format === "v2" && this.g.chain) {
        this.r.vouched = { toSeq: o.seq, epochs: { from: this.r.vouched?.epochs.from ?? o.epoch, to: o.epoch }, fromTs: this.firstTs, toTs: o.ts };
      }
    } else if (o.type === "stop") {
      cur.stopped = true;
      cur.closed = cur.format === "none";
    } else if (o.type === "event") {
      checkEvent(o, L);
    } else if (!isCount(o.count) || typeof o.since !== "number") {
      throw new Break(o.seq, L, "malformed dropped line");
    }
  }

  /** Close the report's record of the current run. */
  private endRun(): void {
    const run = this.run;
    if (!run) return;
    const r = this.r;
    if (run.firstUnsealed !== null) r.unsealed.push({ from: run.firstUnsealed, to: this.prevSeq });
    if (!run.stopped) r.notStopped.push({ from: run.startSeq, to: this.prevSeq });
    r.runList.push({
      startSeq: run.startSeq,
      endSeq: this.prevSeq,
      sealing: run.format,
      keyId: run.keyId,
      epochs: run.firstEpoch === null ? null : { from: run.firstEpoch, to: run.lastEpoch! },
      checked: run.checked,
      stopped: run.stopped,
      closed: run.closed,
    });
    wipe(run.key);
  }
}

/** seq, prev, ts and type of a line at file line L. */
function checkPlace(o: any, L: number, expect: number, prevSeq: number, prev: string): void {
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
}

function startRun(o: any, L: number, opts: VerifyOptions, g: ChainState, prev: Run | null): Run {
  if (o.key_id !== undefined) {
    if (opts.auditSecretKey && !opts.verifyKey) throw new Break(o.seq, L, "this run is sealed in format 2: verify it with its verification key (HUSH-AUDIT-VERIFY-1…, from hush keygen audit)");
    return startRunV2(o, L, g, opts.firstEpoch ?? 0, prev);
  }
  if (o.key !== undefined) return startRunV1(o, L, opts.auditSecretKey, g);
  if (g.seen) {
    throw new Break(o.seq, L, "a run without sealing after runs sealed in format 2: a downgrade (its seals and sealing fields were stripped); a daemon of this version refuses to append an unsealed run to a sealed file");
  }
  if ((opts.verifyKey || opts.auditSecretKey) && !opts.allowUnsealedRuns) {
    throw new Break(o.seq, L, "this run is not sealed (no key in its start line) although an audit key was given: its seals were stripped, or the daemon ran without --audit-state-file");
  }
  return newRun(o.seq, "none");
}

function checkEvent(o: any, L: number): void {
  if (typeof o.action !== "string" || o.action === "") throw new Break(o.seq, L, "event without an action");
  for (const f of EVENT_STRINGS) if (o[f] !== undefined && typeof o[f] !== "string") throw new Break(o.seq, L, `event field ${f} is not a string`);
  if (o.result !== undefined && !RESULTS.has(o.result)) throw new Break(o.seq, L, "event result is not ok, denied or error");
  if (o.count !== undefined && !(isCount(o.count) && isCount(o.repeat_of) && o.repeat_of < o.seq)) throw new Break(o.seq, L, "malformed repeat count");
  if (o.source !== undefined && typeof o.source !== "string") throw new Break(o.seq, L, "event field source is not a string");
  // A failure summary (§9.5): failures ≥ 1, since a time; limited and sources counts.
  const summary = o.failures !== undefined || o.since !== undefined || o.limited !== undefined || o.sources !== undefined;
  if (summary && !(isCount(o.failures) && Number.isSafeInteger(o.since) && (o.limited === undefined || isCount(o.limited)) && (o.sources === undefined || isCount(o.sources)))) {
    throw new Break(o.seq, L, "malformed failure summary");
  }
}
