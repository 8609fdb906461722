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
 * Identical failures (same actor, via, action, target, result, reason)
 * within `aggregateMs` are collapsed: the first is written at once, the
 * repeats become one line with `count` when the window ends. Events that
 * carry a `source` or `failures` field were already accounted by the caller
 * (src/server/failures.ts: unauthenticated failures, per source) and are
 * written as they come. No secret value is ever written (invariant 2):
 * callers pass ids and names only, and every string also goes through the
 * `mask` hook. One writer per file, enforced: the audit file and the state
 * file are locked (flock) for the run.
 *
 * `commit(events)` is the all-or-nothing write of a change's records
 * (src/server/change.ts): every line is in the file when it returns true;
 * when it returns false none of them is, in the file or in the backlog
 * (a line the file took only part of is cut off again with ftruncate), so
 * the caller can undo its change without the log claiming it happened.
 * @module
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, writeSync } from "node:fs";
import { HushError } from "../errors.ts";
import { fromUtf8, utf8, wipe } from "../crypto/index.ts";
import { lineHash } from "./hash.ts";
import { sealMacV2 } from "./sealing.ts";
import { openAuditFile } from "./file.ts";
import type { SealStateFile } from "./state-file.ts";

export type AuditResult = "ok" | "denied" | "error";

/** One audit event. Ids and names only, never a secret value. */
export interface AuditEvent {
  actor?: string;
  via?: string;
  action: string;
  target?: string;
  result?: AuditResult;
  reason?: string;
  corr_id?: string;
  /** `hmac-sha256:…` of a value (never the value): found with `hush audit hash`. */
  value_hash?: string;
  /** Where an unauthenticated failure came from: an IPv4 address, an IPv6 /64, `unix`, or `*` (the overflow record). */
  source?: string;
  /** A failure summary (PROTOCOL.md §9.5): failures in the window, of them answered `rate_limited`, the window's start (ms), distinct sources folded into an overflow record. */
  failures?: number;
  limited?: number;
  since?: number;
  sources?: number;
}

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

const FIELDS = ["actor", "via", "action", "target", "result", "reason", "corr_id", "value_hash", "source"] as const;
const NUMBERS = ["failures", "limited", "since", "sources"] as const;
const RESERVED = new Set(["seq", "ts", "type", "prev", "v", "key", "key_id", "epoch", "seal_every", "seal_interval_ms"]);
const MAX_FIELD = 512;
const MAX_AGGREGATES = 4096;
const NL = utf8("\n");

type Aggregate = { fields: EventFields; firstSeq: number; windowStart: number; count: number };

type Fields = Record<string, string | number | boolean | undefined>;
type EventFields = Record<string, string | number>;

export class AuditWriter {
  readonly path: string;
  /** Non-fatal notes from opening (e.g. a file mode that was tightened). */
  readonly warnings: string[] = [];
  private fd: number;
  private seq: number;
  private prev: string;
  /** Lines not yet in the file; `gate`: write only once the evolved sealing state is saved (a seal, a sealed run's stop). */
  private pending: { bytes: Uint8Array; seal: boolean; gate: boolean }[] = [];
  /** Seal lines in `pending`: while one waits, no new seal is made. */
  private pendingSeals = 0;
  private pendingOffset = 0;
  private pendingBytes = 0;
  private ok = true;
  private lastError: string | null = null;
  private dropped = 0;
  /** Lines written during a commit, told to followers once the whole commit is in. */
  private held: Uint8Array[] | null = null;
  private droppedSince = 0;
  private sealing: SealStateFile | null = null;
  private sinceSeal = 0;
  private lastSealAt: number;
  private lastSealedSeq: number | null = null;
  private aggregates = new Map<string, Aggregate>();
  private listeners = new Set<(line: string) => void>();
  private closers = new Set<() => void>();
  private closed = false;
  private readonly now: () => number;
  private readonly mask: (s: string) => string;
  private readonly sealEvery: number;
  private readonly sealIntervalMs: number;
  private readonly aggregateMs: number;
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
    this.aggregateMs = opts.aggregateMs ?? 1000;
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
   * lock. On any failure the state file (owned by the writer from here) is
   * closed and its lock dropped.
   */
  static open(opts: AuditWriterOptions): AuditWriter {
    const sealing = opts.sealing;
    let fd = -1;
    try {
      if (sealing) {
        // First of all: the state file can be rewritten (before the audit file is created or touched).
        try {
          sealing.persist();
        } catch (e: any) {
          throw new HushError("invalid_request", `cannot rewrite audit state file ${sealing.path} (${e?.code ?? e}): the daemon's user must be able to create files in its directory`);
        }
      }
      const opened = openAuditFile(opts.path); // locked: one daemon per audit file
      fd = opened.fd;
      if (!sealing && opened.lastSeal?.keyId !== undefined) {
        // An unsealed run after format-2 runs is what a downgrade looks like: the verifier refuses it.
        throw new HushError("invalid_request", `audit file ${opts.path} is sealed (format 2, key id ${opened.lastSeal.keyId}): start the daemon with --audit-state-file (the sealing state of that key); an unsealed run appended to it would fail hush audit verify`, {
          hint: "or start a new --audit-file to run without sealing",
        });
      }
      const notes = sealing ? sealing.reconcile(opened.lastSeal, opts.path) : []; // a fast-forward is saved after the start seal
      const w = new AuditWriter(opts, fd, opened.lastSeq, opened.prev);
      w.warnings.push(...opened.warnings, ...notes);
      const start: Fields = { v: 2 };
      for (const [k, v] of Object.entries(opts.start ?? {})) if (!RESERVED.has(k)) start[k] = typeof v === "string" ? w.clean(v) : v;
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
      if (fd >= 0) closeSync(fd);
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
    this.listeners.add(listener);
    if (onClose) this.closers.add(onClose);
    return () => {
      this.listeners.delete(listener);
      if (onClose) this.closers.delete(onClose);
    };
  }

  /**
   * Record one event. Returns its `seq`, or null when it was folded into a
   * repeat count, dropped (backlog full), or the writer is closed.
   */
  record(ev: AuditEvent): number | null {
    if (this.closed) return null;
    const now = this.now();
    this.flushAggregates(now, false);
    const fields = this.fieldsOf(ev);
    let seq: number | null;
    const result = fields.result;
    if (result !== undefined && result !== "ok" && this.aggregateMs > 0 && fields.source === undefined && fields.failures === undefined) {
      const id = JSON.stringify([fields.actor, fields.via, fields.action, fields.target, fields.result, fields.reason]);
      const agg = this.aggregates.get(id);
      if (agg) {
        agg.count++;
        this.tick(now);
        return null;
      }
      seq = this.append("event", () => fields);
      if (seq !== null) {
        if (this.aggregates.size >= MAX_AGGREGATES) this.flushAggregates(now, true, 1);
        this.aggregates.set(id, { fields, firstSeq: seq, windowStart: now, count: 0 });
      }
    } else {
      seq = this.append("event", () => fields);
    }
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
    const lines = events.map((ev) => this.fieldsOf(ev));
    const mark = { seq: this.seq, prev: this.prev, sinceSeal: this.sinceSeal, size: fstatSync(this.fd).size };
    for (const f of lines) this.append("event", () => f);
    // Followers see the lines only once all of them are in the file.
    const held: Uint8Array[] = (this.held = []);
    this.flush();
    this.held = null;
    const written = this.pending.length === 0;
    if (written) {
      for (const b of held) this.tell(b);
    } else {
      // Only these lines were pending (the backlog was empty): take them back.
      if (this.pendingOffset > 0 || held.length > 0) {
        try {
          ftruncateSync(this.fd, mark.size);
        } catch {
          for (const b of held) this.tell(b);
          return true; // the partial line cannot be cut off: the lines stay and land when the file recovers
        }
      }
      this.pending = [];
      this.pendingSeals = 0;
      this.pendingOffset = 0;
      this.pendingBytes = 0;
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
    this.listeners.clear();
    for (const c of this.closers) {
      try {
        c();
      } catch {}
    }
    this.closers.clear();
    return ok;
  }

  // ---- internals -------------------------------------------------------------

  /** An event's fields in line order: strings masked and cut, numbers as they are. */
  private fieldsOf(ev: AuditEvent): EventFields {
    const fields: EventFields = {};
    for (const f of FIELDS) {
      const v = ev[f];
      if (v !== undefined && v !== null) fields[f] = this.clean(String(v));
    }
    for (const f of NUMBERS) {
      const v = ev[f];
      if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) fields[f] = v;
    }
    return fields;
  }

  private clean(s: string): string {
    const m = this.mask(s);
    return m.length > MAX_FIELD ? m.slice(0, MAX_FIELD - 1) + "…" : m;
  }

  /** Create the next line; `build` gets its seq, prev and ts. Returns the seq, or null if dropped. */
  private append(type: string, build: (seq: number, prev: string, ts: number) => Fields): number | null {
    if (type === "event" && this.pendingBytes > this.maxPendingBytes) {
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
    this.pendingBytes += out.length;
    if (seal) this.pendingSeals++;
    if (type !== "seal") this.sinceSeal++;
    return seq;
  }

  /**
   * Append the seal of the current epoch; the state moves on in memory and
   * `flush()` saves it before it writes the line. Does nothing while an
   * earlier seal line still waits (the lines stay due for the next one).
   */
  private seal(now: number): void {
    if (this.pendingSeals > 0) return;
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

  /** Write the repeat counts of windows that ended (all of them, or the oldest `limit`). */
  private flushAggregates(now: number, all: boolean, limit = Infinity): void {
    for (const [id, agg] of this.aggregates) {
      if (limit-- <= 0) break;
      if (!all && now - agg.windowStart < this.aggregateMs) continue;
      this.aggregates.delete(id);
      if (agg.count > 0) this.append("event", () => ({ ...agg.fields, count: agg.count, repeat_of: agg.firstSeq }));
    }
  }

  /** Write pending lines in order; fdatasync after a seal. Returns true when all are in the file. */
  private flush(): boolean {
    let sync = false;
    while (this.pending.length > 0) {
      const p = this.pending[0];
      if (p.gate && this.pendingOffset === 0 && this.sealing?.dirty) {
        // The invariant of §9.4: S_{n+1} is on disk before the seal of epoch n is.
        try {
          this.sealing.persist();
        } catch (e: any) {
          return this.failed({ code: `audit state file: ${e?.code ?? e?.message ?? e}` });
        }
      }
      try {
        const n = writeSync(this.fd, p.bytes, this.pendingOffset, p.bytes.length - this.pendingOffset);
        if (n <= 0) throw Object.assign(new Error("write returned 0"), { code: "EIO" });
        this.pendingOffset += n;
      } catch (e) {
        return this.failed(e);
      }
      if (this.pendingOffset < p.bytes.length) continue;
      this.pending.shift();
      this.pendingOffset = 0;
      this.pendingBytes -= p.bytes.length;
      if (p.seal) this.pendingSeals--;
      sync ||= p.seal;
      if (this.held) this.held.push(p.bytes);
      else this.tell(p.bytes);
      if (this.pending.length === 0 && this.dropped > 0) {
        const count = this.dropped;
        const since = this.droppedSince;
        this.dropped = 0;
        this.append("dropped", () => ({ count, since }));
      }
    }
    if (sync || this.closed) {
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

  /** Hand a line that is in the file to the followers. */
  private tell(bytes: Uint8Array): void {
    if (this.listeners.size === 0) return;
    const text = fromUtf8(bytes.subarray(0, bytes.length - 1));
    for (const l of this.listeners) {
      try {
        l(text);
      } catch {}
    }
  }

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
