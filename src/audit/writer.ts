/**
 * The audit log writer (PROTOCOL.md §9): hash-chained JSON Lines, appended
 * synchronously to one file (O_APPEND, mode 0600, symlinks refused), with
 * forward-secure seals when an audit public key is configured.
 *
 * Lines, in key order `seq, ts, type, prev, …`:
 * - `start`  first line of each daemon run: `v`, the caller's `start` fields
 *   and, when sealing, `key` (the run's random k0 sealed to the audit public
 *   key with src/crypto/box.ts, context "audit k0"), `epoch: 0`,
 *   `seal_every`, `seal_interval_ms`.
 * - `event`  `actor, via, action, target, result, reason, corr_id` (any may be
 *   absent); a summary of repeated failures adds `count` and `repeat_of`.
 * - `dropped` `count, since`: events lost while the sink was failing and the
 *   in-memory backlog was full.
 * - `seal`   `epoch, mac` (see hash.ts); written after `sealEvery` lines,
 *   after `sealIntervalMs` when there is anything unsealed (the caller drives
 *   the clock with `tick()`), and on `close()`.
 * - `stop`   last line of a run closed cleanly; followed by the closing seal.
 *
 * A run continues the `seq` and `prev` chain of an existing file. Each line
 * is handed to write(2) before `record()` returns, so an event is in the file
 * before the request that caused it is answered (seals are also fdatasync'ed).
 * When a write fails (ENOSPC, EACCES, EIO…) the writer turns `healthy` false,
 * keeps the lines in memory (bounded; beyond the bound, events are counted and
 * later written as one `dropped` line) and retries on every `record()` and
 * `tick()`, in order, so the chain stays intact. Failing closed — refusing
 * requests that reveal or change secrets while `healthy` is false — is the
 * caller's job.
 *
 * Identical failures (same actor, via, action, target, result, reason)
 * within `aggregateMs` are collapsed: the first is written at once, the
 * repeats become one line with `count` when the window ends. No secret value
 * is ever written (invariant 2): callers pass ids and names only, and every
 * string also goes through the `mask` hook. One writer per file.
 * @module
 */
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, lstatSync, openSync, readSync, writeSync, constants as fsc } from "node:fs";
import { HushError } from "../errors.ts";
import { fromUtf8, randomBytes, toB64u, utf8, wipe } from "../crypto/index.ts";
import { sealBox } from "../crypto/box.ts";
import { K0_BOX_CONTEXT, ZERO_PREV, lineHash, ratchetKey, sealMac } from "./hash.ts";
import { AUDIT_PATH_HINT, untrustedDirectory, untrustedFile } from "./filecheck.ts";

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
}

export interface AuditWriterOptions {
  path: string;
  /** X25519 audit public key (from `hush keygen audit`); enables sealing. */
  auditPublicKey?: Uint8Array;
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
}

const FIELDS = ["actor", "via", "action", "target", "result", "reason", "corr_id", "value_hash"] as const;
const RESERVED = new Set(["seq", "ts", "type", "prev", "v", "key", "epoch", "seal_every", "seal_interval_ms"]);
const MAX_FIELD = 512;
const MAX_AGGREGATES = 4096;
const MAX_TAIL_SEARCH = 1 << 20;
const NL = utf8("\n");

type Aggregate = { fields: Record<string, string>; firstSeq: number; windowStart: number; count: number };

type Fields = Record<string, string | number | boolean | undefined>;

export class AuditWriter {
  readonly path: string;
  /** Non-fatal notes from opening (e.g. a file mode that was tightened). */
  readonly warnings: string[] = [];
  private fd: number;
  private seq: number;
  private prev: string;
  private pending: { bytes: Uint8Array; seal: boolean }[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;
  private ok = true;
  private lastError: string | null = null;
  private dropped = 0;
  private droppedSince = 0;
  private key: Uint8Array | null = null;
  private epoch = 0;
  private sinceSeal = 0;
  private lastSealAt: number;
  private lastSealedSeq: number | null = null;
  private aggregates = new Map<string, Aggregate>();
  private listeners = new Set<(line: string) => void>();
  private closed = false;
  private readonly now: () => number;
  private readonly mask: (s: string) => string;
  private readonly sealEvery: number;
  private readonly sealIntervalMs: number;
  private readonly aggregateMs: number;
  private readonly maxPendingBytes: number;

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
    this.lastSealAt = this.now();
  }

  /**
   * Open (or create) the audit file and write this run's `start` line.
   * Throws HushError `invalid_request` for a symlink, a non-regular file, a
   * file or directory another user owns or can write (src/audit/filecheck.ts;
   * `detail.hint` says what to do), or a file whose last line is incomplete
   * or not an audit line.
   */
  static open(opts: AuditWriterOptions): AuditWriter {
    if (opts.auditPublicKey && opts.auditPublicKey.length !== 32) throw new TypeError("audit public key must be 32 bytes");
    const { fd, lastSeq, prev, warnings } = openAuditFile(opts.path);
    const w = new AuditWriter(opts, fd, lastSeq, prev);
    w.warnings.push(...warnings);
    const start: Fields = { v: 1 };
    for (const [k, v] of Object.entries(opts.start ?? {})) if (!RESERVED.has(k)) start[k] = typeof v === "string" ? w.clean(v) : v;
    if (opts.auditPublicKey) {
      w.key = randomBytes(32);
      start.key = toB64u(sealBox(opts.auditPublicKey, w.key, K0_BOX_CONTEXT));
      start.epoch = 0;
      start.seal_every = w.sealEvery;
      start.seal_interval_ms = w.sealIntervalMs;
    }
    w.append("start", () => start);
    w.flush();
    return w;
  }

  /** False while lines cannot be written; callers then refuse secret-revealing requests. */
  get healthy(): boolean {
    return this.ok;
  }

  /** For stats and logs: health, last error, last seq, backlog, sealing epoch. */
  status() {
    return {
      healthy: this.ok,
      lastError: this.lastError,
      seq: this.seq,
      pendingLines: this.pending.length,
      dropped: this.dropped,
      epoch: this.key ? this.epoch : null,
      lastSealedSeq: this.lastSealedSeq,
    };
  }

  /** Called with the text of every line once it is in the file (for live tails). */
  subscribe(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Record one event. Returns its `seq`, or null when it was folded into a
   * repeat count, dropped (backlog full), or the writer is closed.
   */
  record(ev: AuditEvent): number | null {
    if (this.closed) return null;
    const now = this.now();
    this.flushAggregates(now, false);
    const fields: Record<string, string> = {};
    for (const f of FIELDS) {
      const v = ev[f];
      if (v !== undefined && v !== null) fields[f] = this.clean(String(v));
    }
    let seq: number | null;
    const result = fields.result;
    if (result !== undefined && result !== "ok" && this.aggregateMs > 0) {
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
    if (this.key && this.sinceSeal >= this.sealEvery) this.seal(now);
    this.flush();
    return seq;
  }

  /** Drive time: end aggregation windows, seal when due, retry pending writes. */
  tick(now: number = this.now()): void {
    if (this.closed) return;
    this.flushAggregates(now, false);
    if (this.key && this.sinceSeal > 0 && (this.sinceSeal >= this.sealEvery || now - this.lastSealAt >= this.sealIntervalMs)) this.seal(now);
    this.flush();
  }

  /**
   * End the run: pending repeat counts, a `stop` line, the closing seal; the
   * sealing key is wiped. Returns false when lines could not be written.
   */
  close(): boolean {
    if (this.closed) return this.pending.length === 0;
    const now = this.now();
    this.flushAggregates(now, true);
    this.append("stop", () => ({}));
    if (this.key) this.seal(now);
    wipe(this.key);
    this.key = null;
    this.closed = true;
    const ok = this.flush();
    try {
      closeSync(this.fd);
    } catch {}
    this.listeners.clear();
    return ok;
  }

  // ---- internals -------------------------------------------------------------

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
    this.pending.push({ bytes: out, seal: type === "seal" });
    this.pendingBytes += out.length;
    if (type !== "seal") this.sinceSeal++;
    return seq;
  }

  private seal(now: number): void {
    const key = this.key!;
    const epoch = this.epoch;
    const seq = this.append("seal", (s, prev, ts) => ({ epoch, mac: sealMac(key, s, epoch, prev, ts) }));
    this.key = ratchetKey(key);
    wipe(key);
    this.epoch++;
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
      sync ||= p.seal;
      if (this.listeners.size > 0) {
        const text = fromUtf8(p.bytes.subarray(0, p.bytes.length - 1));
        for (const l of this.listeners) {
          try {
            l(text);
          } catch {}
        }
      }
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
    this.ok = true;
    this.lastError = null;
    return true;
  }

  private failed(e: any): false {
    this.lastError = typeof e?.code === "string" ? e.code : String(e?.message ?? e);
    return (this.ok = false);
  }
}

const positive = (n: number, what: string): number => {
  if (Number.isSafeInteger(n) && n > 0) return n;
  throw new TypeError(`${what} must be a positive integer`);
};

/** Open for appending and find where the chain continues. */
function openAuditFile(path: string): { fd: number; lastSeq: number; prev: string; warnings: string[] } {
  const warnings: string[] = [];
  const fail = (msg: string, hint?: string): never => {
    throw new HushError("invalid_request", `audit file ${path}: ${msg}`, hint ? { hint } : {});
  };
  const dirProblem = untrustedDirectory(path);
  if (dirProblem) fail(dirProblem, AUDIT_PATH_HINT);
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) fail("is a symbolic link; refusing to follow it");
    if (!st.isFile()) fail("is not a regular file");
  } catch (e: any) {
    if (e instanceof HushError) throw e;
    if (e?.code !== "ENOENT") fail(`cannot inspect it (${e?.code ?? e})`);
  }
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDWR | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
  } catch (e: any) {
    return fail(e?.code === "ELOOP" ? "is a symbolic link; refusing to follow it" : `cannot open it (${e?.code ?? e})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail("is not a regular file");
    const fileProblem = untrustedFile(st);
    if (fileProblem) fail(fileProblem, AUDIT_PATH_HINT);
    if (st.mode & 0o077) {
      fchmodSync(fd, 0o600);
      warnings.push(`audit file ${path} had mode ${(st.mode & 0o777).toString(8)}; changed to 600`);
    }
    if (st.size === 0) return { fd, lastSeq: 0, prev: ZERO_PREV, warnings };
    const last = readLastLine(fd, st.size, fail);
    let seq: unknown;
    try {
      seq = JSON.parse(fromUtf8(last)).seq;
    } catch {}
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) fail("its last line is not an audit line; refusing to append to it");
    return { fd, lastSeq: seq as number, prev: lineHash(last), warnings };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The bytes of the last line (without its newline). Lines are short: the last MiB is enough. */
function readLastLine(fd: number, size: number, fail: (msg: string) => never): Uint8Array {
  const n = Math.min(size, MAX_TAIL_SEARCH);
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, size - n);
  if (buf[n - 1] !== 0x0a) fail("ends with an incomplete line (a crash or a full disk?); move it aside or repair it before appending");
  const nl = n >= 2 ? buf.lastIndexOf(0x0a, n - 2) : -1;
  if (nl < 0 && n < size) fail("its last line is too long");
  return new Uint8Array(buf.subarray(nl + 1, n - 1));
}
