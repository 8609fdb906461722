/**
 * The audit log writer (PROTOCOL.md §9): hash-chained JSON Lines, appended
 * synchronously to one file (O_APPEND, mode 0600, symlinks refused), with
 * forward-secure seals when a sealing state file is configured
 * (src/audit/sealing.ts, src/audit/state-file.ts).
 *
 * Lines, in key order `seq, ts, type, prev, …`:
 * - `start`  first line of each daemon run: `v` (2), the caller's `start`
 *   fields and, when sealing, `key_id`, `epoch` (the epoch of the seal that
 *   follows at once), `seal_every`, `seal_interval_ms`.
 * - `event`  `actor, via, action, target, result, reason, corr_id` (any may be
 *   absent); a summary of repeated failures adds `count` and `repeat_of`.
 * - `dropped` `count, since`: events lost while the sink was failing and the
 *   in-memory backlog was full.
 * - `seal`   `key_id, epoch, mac` (see sealing.ts): right after the `start`
 *   line (the start seal: every run moves the sealing state on), after
 *   `sealEvery` lines, after `sealIntervalMs` when there is anything
 *   unsealed (the caller drives the clock with `tick()`), and on `close()`.
 * - `stop`   last line of a run closed cleanly; followed by the closing seal.
 *
 * Sealing order (PROTOCOL.md §9.4): a seal line made with K_n is never in
 * the file while S_n is the state on disk. The seal is built in memory and
 * the state moves on to S_{n+1} there; before the seal line (or a sealed
 * run's `stop` line, which its closing seal follows) is written, S_{n+1}
 * durably replaces S_n in the state file (SealStateFile.persist). While the
 * state cannot be replaced the seal line and everything after it wait in
 * memory, the writer is unhealthy, no further seal is made (at most one
 * epoch is ever in flight) and it keeps retrying. A crash after the state
 * was replaced but before the seal line was written skips epoch n: the next
 * `open()` and the verifier name the skip (reconcile, verify-seals.ts).
 *
 * A run continues the `seq` and `prev` chain of an existing file. Each line
 * is handed to write(2) before `record()` returns, so an event is in the file
 * before the request that caused it is answered. When a write fails (ENOSPC,
 * EACCES, EIO…) the writer turns `healthy` false, keeps the lines in memory
 * (bounded; beyond the bound, events are counted and later written as one
 * `dropped` line) and retries on every `record()` and `tick()`, in order, so
 * the chain stays intact. Failing closed — refusing requests that reveal or
 * change secrets while `healthy` is false — is the caller's job.
 *
 * Identical failures within `aggregateMs` are collapsed into one line with
 * `count` (aggregate.ts). No secret value is ever written (invariant 2):
 * callers pass ids and names only, and every string also goes through the
 * `mask` hook. One writer per file, enforced: the audit file and the state
 * file are locked (flock) for the run.
 *
 * Parts: event fields (event.ts), the backlog (backlog.ts), followers
 * (followers.ts), the checks before a run (run-open.ts).
 *
 * `commit(events)` is the all-or-nothing write of a change's records
 * (src/server/change.ts): every line is in the file when it returns true;
 * when it returns false none of them is, in the file or in the backlog
 * (a line the file took only part of is cut off again with ftruncate), so
 * the caller can undo its change without the log claiming it happened.
 * @module
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync } from "node:fs";
import { utf8, wipe } from "../crypto/index.ts";
import { lineHash } from "./hash.ts";
import { sealMacV2 } from "./sealing.ts";
import { openForRun } from "./run-open.ts";
import { FailureAggregator } from "./aggregate.ts";
import { Backlog } from "./backlog.ts";
import { Followers } from "./followers.ts";
import { cleanField, eventFields, type AuditEvent, type EventFields } from "./event.ts";
import type { SealStateFile } from "./state-file.ts";

export interface AuditWriterOptions {
  path: string;
  /** The sealing state (from `hush keygen audit --state-out`); enables sealing. The writer owns it from here. */
  sealing?: SealStateFile;
  /** Seal after this many lines (default 100). */
  sealEvery?: number;
  /** Seal when anything is unsealed and this much time passed since the last seal (default 10 000 ms). */
  sealIntervalMs?: number;
  /** Window for collapsing identical failures (default 1000 ms). */
  aggregateMs?: number;
  /** Bound of the in-memory backlog while the file cannot be written (default 4 MiB). */
  maxPendingBytes?: number;
  /** Every string field passes through this before it is written (secret masking). */
  mask?: (s: string) => string;
  now?: () => number;
  /** Extra, non-secret fields for the `start` line (e.g. `version`, `hmac_key_id`). */
  start?: Record<string, string | number | boolean>;
  /** Told once when the writer turns unhealthy (with the error code) and once when it recovers (null): for the daemon's log. Must not throw. */
  onHealthChange?: (healthy: boolean, error: string | null) => void;
}

const RESERVED = new Set(["seq", "ts", "type", "prev", "v", "key", "key_id", "epoch", "seal_every", "seal_interval_ms"]);
const NL = utf8("\n");

type Fields = Record<string, string | number | boolean | undefined>;

export class AuditWriter {
  readonly path: string;
  /** Non-fatal notes from opening (e.g. a file mode that was tightened). */
  readonly warnings: string[] = [];
  private fd: number;
  private seq: number;
  private prev: string;
  /** Lines not yet in the file; gated: write only once the evolved sealing state is saved (a seal, a sealed run's stop). */
  private readonly pending = new Backlog();
  private ok = true;
  private lastError: string | null = null;
  private dropped = 0;
  private droppedSince = 0;
  private sealing: SealStateFile | null = null;
  private sinceSeal = 0;
  private lastSealAt: number;
  private lastSealedSeq: number | null = null;
  private readonly aggregates: FailureAggregator;
  private readonly followers = new Followers();
  private closed = false;
  private readonly now: () => number;
  private readonly mask: (s: string) => string;
  private readonly sealEvery: number;
  private readonly sealIntervalMs: number;
  private readonly maxPendingBytes: number;
  private readonly onHealthChange: (healthy: boolean, error: string | null) => void;

  private constructor(opts: AuditWriterOptions, fd: number, lastSeq: number, prev: string) {
    this.path = opts.path;
    this.fd = fd;
    this.seq = lastSeq;
    this.prev = prev;
    this.now = opts.now ?? Date.now;
    this.mask = opts.mask ?? ((s) => s);
    this.sealEvery = positive(opts.sealEvery ?? 100, "sealEvery");
    this.sealIntervalMs = positive(opts.sealIntervalMs ?? 10_000, "sealIntervalMs");
    this.aggregates = new FailureAggregator(opts.aggregateMs ?? 1000);
    this.maxPendingBytes = opts.maxPendingBytes ?? 4 << 20;
    const tell = opts.onHealthChange;
    this.onHealthChange = (h, e) => {
      try {
        tell?.(h, e);
      } catch {}
    };
    this.lastSealAt = this.now();
  }

  /**
   * Open (or create) the audit file, check the sealing state against it,
   * and write this run's `start` line (and, when sealing, its start seal).
   * Throws HushError `invalid_request` for what openAuditFile refuses
   * (src/audit/file.ts: a symlink, a file or directory another user owns or
   * can write, an incomplete last line…), a file sealed with another key, a
   * file sealed in format 2 opened without a sealing state (its last seal in
   * the last MiB has a key id), a last seal ahead of the state that the state
   * cannot vouch for (SealStateFile.reconcile), or a state file that cannot
   * be rewritten; `conflict` when another process holds the audit file's
   * lock (src/audit/run-open.ts). On any failure the state file (owned by
   * the writer from here) is closed and its lock dropped.
   */
  static open(opts: AuditWriterOptions): AuditWriter {
    const sealing = opts.sealing;
    const opened = openForRun(opts.path, sealing);
    try {
      const w = new AuditWriter(opts, opened.fd, opened.lastSeq, opened.prev);
      w.warnings.push(...opened.warnings, ...opened.notes);
      const start: Fields = { v: 2 };
      for (const [k, v] of Object.entries(opts.start ?? {})) if (!RESERVED.has(k)) start[k] = typeof v === "string" ? cleanField(v, w.mask) : v;
      if (sealing) {
        w.sealing = sealing;
        start.key_id = sealing.keyId;
        start.epoch = sealing.epoch;
        start.seal_every = w.sealEvery;
        start.seal_interval_ms = w.sealIntervalMs;
      }
      w.append("start", () => start);
      if (sealing) w.seal(w.now());
      w.flush();
      return w;
    } catch (e) {
      closeSync(opened.fd);
      sealing?.close(); // the writer owns it: its lock is dropped with the failed start
      throw e;
    }
  }

  /** False while lines cannot be written; callers then refuse secret-revealing requests. */
  get healthy(): boolean {
    return this.ok && !this.closed;
  }

  /** For stats and logs: health, last error, last seq, backlog, sealing epoch. */
  status() {
    return {
      healthy: this.ok,
      lastError: this.lastError,
      seq: this.seq,
      pendingLines: this.pending.length,
      dropped: this.dropped,
      epoch: this.sealing ? this.sealing.epoch : null,
      lastSealedSeq: this.lastSealedSeq,
    };
  }

  /**
   * `listener` gets the text of every line once it is in the file (for live
   * tails); `onClose` runs once when the run has ended, after its `stop`
   * line and closing seal were handed out (at once if it already has).
   */
  subscribe(listener: (line: string) => void, onClose?: () => void): () => void {
    if (this.closed) {
      if (onClose) queueMicrotask(onClose);
      return () => {};
    }
    return this.followers.add(listener, onClose);
  }

  /**
   * Record one event. Returns its `seq`, or null when it was folded into a
   * repeat count, dropped (backlog full), or the writer is closed.
   */
  record(ev: AuditEvent): number | null {
    if (this.closed) return null;
    const now = this.now();
    this.flushAggregates(now, false);
    const fields = eventFields(ev, this.mask);
    const kind = this.aggregates.kindOf(fields);
    if (kind !== null && this.aggregates.fold(kind)) {
      this.tick(now);
      return null;
    }
    const seq = this.append("event", () => fields);
    if (kind !== null && seq !== null) this.aggregates.opened(kind, fields, seq, now, this.writeRepeat);
    if (this.sealing && this.sinceSeal >= this.sealEvery) this.seal(now);
    this.flush();
    return seq;
  }

  /**
   * Write a change's records now, all or nothing (see the module comment).
   * True: every line is in the file (handed whole to write(2)), in order.
   * False: none of them is written or kept, because the writer is closed,
   * lines from before are still waiting (the file is failing), or the file
   * refused these; the writer is then unhealthy, and `refusal` (the record
   * of the refused change, e.g. `result: "error"`) waits in the backlog
   * like any other line, so the log tells what was refused once the file
   * recovers. Throws only when a line
   * cannot be built (a bug, e.g. in the mask hook): nothing is written then
   * either. A seal that falls due after the lines may still fail; that makes
   * the writer unhealthy but does not undo the lines.
   */
  commit(events: readonly AuditEvent[], refusal: AuditEvent): boolean {
    if (this.closed) return false;
    const now = this.now();
    this.flushAggregates(now, false);
    if (!this.flush()) {
      this.record(refusal);
      return false;
    }
    const lines = events.map((ev) => eventFields(ev, this.mask));
    const mark = { seq: this.seq, prev: this.prev, sinceSeal: this.sinceSeal, size: fstatSync(this.fd).size };
    for (const f of lines) this.append("event", () => f);
    // Followers see the lines only once all of them are in the file.
    this.followers.hold();
    this.flush();
    const held = this.followers.release();
    const written = this.pending.length === 0;
    if (written) {
      this.followers.tell(held);
    } else {
      // Only these lines were pending (the backlog was empty): take them back.
      if (this.pending.offset > 0 || held.length > 0) {
        try {
          ftruncateSync(this.fd, mark.size);
        } catch {
          this.followers.tell(held);
          return true; // the partial line cannot be cut off: the lines stay and land when the file recovers
        }
      }
      this.pending.clear();
      this.seq = mark.seq;
      this.prev = mark.prev;
      this.sinceSeal = mark.sinceSeal;
      this.record(refusal);
      return false;
    }
    if (this.sealing && this.sinceSeal >= this.sealEvery) this.seal(now);
    this.flush();
    return true;
  }

  /** Drive time: end aggregation windows, seal when due, retry pending writes. */
  tick(now: number = this.now()): void {
    if (this.closed) return;
    this.flushAggregates(now, false);
    if (this.sealing && this.sinceSeal > 0 && (this.sinceSeal >= this.sealEvery || now - this.lastSealAt >= this.sealIntervalMs)) this.seal(now);
    this.flush();
  }

  /**
   * End the run: pending repeat counts, a `stop` line, the closing seal, the
   * evolved state saved and wiped from memory; then `onClose` subscribers are
   * told. Returns false when lines (or the state) could not be written.
   * A sealed run gets its `stop` line only when everything before it is in
   * the file and the evolved state is saved, so that its closing seal can
   * follow: a run that could not be closed cleanly has no `stop` line, and
   * `hush audit verify --closed` fails on it. Idempotent.
   */
  close(): boolean {
    if (this.closed) return this.pending.length === 0 && !this.sealing?.dirty;
    const now = this.now();
    this.flushAggregates(now, true);
    if (!this.sealing || this.flush()) {
      this.append("stop", () => ({}));
      if (this.sealing) this.seal(now);
    }
    this.closed = true;
    const ok = this.flush();
    this.sealing?.close();
    try {
      closeSync(this.fd);
    } catch {}
    this.followers.end();
    return ok;
  }

  // ---- internals -------------------------------------------------------------

  /** Create the next line; `build` gets its seq, prev and ts. Returns the seq, or null if dropped. */
  private append(type: string, build: (seq: number, prev: string, ts: number) => Fields): number | null {
    if (type === "event" && this.pending.bytes > this.maxPendingBytes) {
      if (this.dropped++ === 0) this.droppedSince = this.now();
      return null;
    }
    const seq = this.seq + 1;
    const ts = Math.floor(this.now());
    const line = JSON.stringify({ seq, ts, type, prev: this.prev, ...build(seq, this.prev, ts) });
    const bytes = utf8(line);
    this.seq = seq;
    this.prev = lineHash(bytes);
    const out = new Uint8Array(bytes.length + 1);
    out.set(bytes);
    out.set(NL, bytes.length);
    const seal = type === "seal";
    this.pending.push({ bytes: out, seal, gate: seal || (type === "stop" && this.sealing !== null) });
    if (type !== "seal") this.sinceSeal++;
    return seq;
  }

  /**
   * Append the seal of the current epoch; the state moves on in memory and
   * `flush()` saves it before it writes the line. Does nothing while an
   * earlier seal line still waits (the lines stay due for the next one).
   */
  private seal(now: number): void {
    if (this.pending.seals > 0) return;
    const st = this.sealing!;
    const key = st.sealKey();
    const { epoch, keyId } = st;
    const seq = this.append("seal", (s, prev, ts) => ({ key_id: keyId, epoch, mac: sealMacV2(key, keyId, s, epoch, prev, ts) }));
    wipe(key);
    st.advance();
    this.sinceSeal = 0;
    this.lastSealAt = now;
    this.lastSealedSeq = seq;
  }

  /** End the aggregation windows that are over (all of them at the end of the run). */
  private flushAggregates(now: number, all: boolean): void {
    this.aggregates.end(now, all, this.writeRepeat);
  }

  /** A repeat count's line (FailureAggregator). */
  private readonly writeRepeat = (fields: EventFields): void => void this.append("event", () => fields);

  /** Write pending lines in order; fdatasync after a seal. Returns true when all are in the file. */
  private flush(): boolean {
    const r = this.pending.drain(this.fd, this.saveState, (line) => {
      this.followers.written(line.bytes);
      if (this.pending.length === 0 && this.dropped > 0) {
        const count = this.dropped;
        const since = this.droppedSince;
        this.dropped = 0;
        this.append("dropped", () => ({ count, since }));
      }
    });
    if (!r.ok) return this.failed(r.error);
    if (r.sync || this.closed) {
      try {
        fdatasyncSync(this.fd);
      } catch (e) {
        return this.failed(e);
      }
    }
    if (!this.ok) this.onHealthChange(true, null);
    this.ok = true;
    this.lastError = null;
    return true;
  }

  /** The gate of a seal or a sealed run's stop line, the invariant of §9.4: S_{n+1} is on disk before the seal of epoch n is. */
  private readonly saveState = (): void => {
    if (!this.sealing?.dirty) return;
    try {
      this.sealing.persist();
    } catch (e: any) {
      throw { code: `audit state file: ${e?.code ?? e?.message ?? e}` };
    }
  };

  private failed(e: any): false {
    this.lastError = typeof e?.code === "string" ? e.code : String(e?.message ?? e);
    if (this.ok) this.onHealthChange(false, this.lastError);
    return (this.ok = false);
  }
}

const positive = (n: number, what: string): number => {
  if (Number.isSafeInteger(n) && n > 0) return n;
  throw new TypeError(`${what} must be a positive integer`);
};
