/**
 * Reading the audit log (PROTOCOL.md §9): parse lines, filter them, format
 * them as a colour-free table row, split byte streams into lines, check the
 * chain of a live stream, and follow a growing file.
 *
 * Filters (`hush audit tail`, and the daemon's GET /v1/admin/audit):
 * `since` keeps lines with seq ≥ since; `actor` and `result` match exactly;
 * `action` matches exactly, or by prefix when it ends in `*` (`cred.*`).
 * `actor`, `action` and `result` select event lines only.
 *
 * Table rows escape control, bidi and other invisible characters: names in
 * the log are chosen by clients, and must not drive the admin's terminal.
 * @module
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { HushError } from "../errors.ts";
import { lineHash } from "./hash.ts";

export interface AuditLine {
  seq: number;
  ts: number;
  type: string;
  prev: string;
  actor?: string;
  via?: string;
  action?: string;
  target?: string;
  result?: string;
  reason?: string;
  corr_id?: string;
  count?: number;
  repeat_of?: number;
  source?: string;
  failures?: number;
  limited?: number;
  since?: number;
  sources?: number;
  epoch?: number;
  [field: string]: unknown;
}

export interface AuditFilter {
  since?: number;
  actor?: string;
  action?: string;
  result?: string;
}

/** Parse one line; null when it is not an audit line. */
export function parseAuditLine(text: string): AuditLine | null {
  let o: any;
  try {
    o = JSON.parse(text);
  } catch {
    return null;
  }
  if (o === null || typeof o !== "object" || Array.isArray(o)) return null;
  if (!Number.isSafeInteger(o.seq) || typeof o.type !== "string") return null;
  return o as AuditLine;
}

/** True when the line passes the filter. */
export function matchAuditLine(l: AuditLine, f: AuditFilter): boolean {
  if (f.since !== undefined && l.seq < f.since) return false;
  if (f.actor === undefined && f.action === undefined && f.result === undefined) return true;
  if (l.type !== "event") return false;
  if (f.actor !== undefined && l.actor !== f.actor) return false;
  if (f.result !== undefined && l.result !== f.result) return false;
  if (f.action !== undefined) {
    const a = l.action ?? "";
    if (f.action.endsWith("*") ? !a.startsWith(f.action.slice(0, -1)) : a !== f.action) return false;
  }
  return true;
}

// C0, DEL, C1, zero-width and bidi controls, line/paragraph separators, BOM.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** Make a client-chosen string safe to print on a terminal. */
export function escapeForTerminal(s: string): string {
  return s.replace(UNSAFE, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

const COLUMNS = [
  ["SEQ", 7],
  ["TIME", 20],
  ["RESULT", 6],
  ["ACTOR", 18],
  ["VIA", 6],
  ["ACTION", 25], // the longest action the daemon writes: admin.server-key.activate
  ["TARGET", 20],
  ["DETAIL", 0],
] as const;

function row(cells: string[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(COLUMNS[i][1])))
    .join("  ")
    .trimEnd();
}

/** The table's column names, SEQ to DETAIL. */
export const AUDIT_TABLE_COLUMNS: readonly string[] = COLUMNS.map((c) => c[0]);

/** The header line of the fixed-width table. */
export const AUDIT_TABLE_HEADER = row([...AUDIT_TABLE_COLUMNS]);

function time(ts: unknown): string {
  return typeof ts === "number" && Number.isFinite(ts) ? new Date(ts).toISOString().replace(/\.\d+Z$/, "Z") : "-";
}

/** "20000 failures from 203.0.113.7 since …" (a failure summary, PROTOCOL.md §9.5). */
function summaryText(l: AuditLine): string {
  const from = l.source === "*" ? `from ${l.sources} more sources` : `from ${l.source}`;
  return `${l.failures} failures ${from} since ${time(l.since)}${l.limited ? ` (${l.limited} rate limited)` : ""}`;
}

/** One table row (fixed-width columns, so a followed stream stays aligned; a longer cell pushes the rest right). */
export function formatAuditRow(l: AuditLine): string {
  return row(auditCells(l));
}

/**
 * One line's cells, in the order of `AUDIT_TABLE_COLUMNS`, escaped for a
 * terminal: for a table printed whole, whose columns can be sized to their
 * content.
 */
export function auditCells(l: AuditLine): string[] {
  const s = (v: unknown) => (v === undefined || v === null || v === "" ? "-" : escapeForTerminal(String(v)));
  let detail: string;
  switch (l.type) {
    case "event":
      detail = [
        l.reason,
        l.count ? `repeated ${l.count}x more (first: seq ${l.repeat_of})` : undefined,
        typeof l.failures === "number" ? summaryText(l) : l.source !== undefined ? `from ${l.source}` : undefined,
        l.corr_id ? `${typeof l.failures === "number" ? "first " : ""}corr ${l.corr_id}` : undefined,
      ]
        .filter((x) => x !== undefined)
        .map((x) => escapeForTerminal(String(x)))
        .join("; ");
      return [String(l.seq), time(l.ts), s(l.result), s(l.actor), s(l.via), s(l.action), s(l.target), detail || "-"];
    case "start":
      detail =
        "daemon run started" +
        (typeof l.key_id === "string" ? `, sealed from epoch ${s(l.epoch)} (key id ${s(l.key_id)})` : typeof l.key === "string" ? ", sealed (format 1)" : ", not sealed") +
        (l.version ? ` (hush ${s(l.version)})` : "");
      break;
    case "seal":
      detail = `seal, epoch ${s(l.epoch)}`;
      break;
    case "stop":
      detail = "daemon run stopped";
      break;
    case "dropped":
      detail = `${s(l.count)} events lost while the audit file could not be written (since ${time(l.since)})`;
      break;
    default:
      detail = `unknown line type ${s(l.type)}`;
  }
  return [String(l.seq), time(l.ts), "-", "-", "-", `[${escapeForTerminal(l.type)}]`, "-", detail];
}

/** Splits a byte stream into lines (without their newline), keeping the partial rest. */
export class LineSplitter {
  private rest = "";
  private readonly dec = new TextDecoder();

  push(chunk: Uint8Array | string): string[] {
    const text = this.rest + (typeof chunk === "string" ? chunk : this.dec.decode(chunk, { stream: true }));
    const parts = text.split("\n");
    this.rest = parts.pop()!;
    return parts;
  }

  /** What is left without a newline (an incomplete last line). */
  get pending(): string {
    return this.rest;
  }
}

/**
 * Checks that consecutive lines of a stream continue each other (seq + 1 and
 * prev = hash of the line before), from whichever line comes first.
 * Throws HushError `internal` on a break.
 */
export class ChainFollower {
  private last: { seq: number; hash: string } | null = null;

  check(text: string, l: AuditLine): void {
    if (this.last) {
      if (l.seq !== this.last.seq + 1) throw new HushError("internal", `audit stream broken: seq ${l.seq} follows seq ${this.last.seq}`);
      if (l.prev !== this.last.hash) throw new HushError("internal", `audit stream broken at seq ${l.seq}: prev does not match seq ${this.last.seq}`);
    }
    this.last = { seq: l.seq, hash: lineHash(text) };
  }
}

/**
 * Heartbeats of a followed stream (PROTOCOL.md §8, "Audit"): while no line
 * is written, the daemon sends `{"type":"heartbeat","ts":MS,"last_seq":N}`
 * every AUDIT_HEARTBEAT_MS, so that idle timeouts do not cut the stream and
 * the follower can tell a quiet daemon from a dead connection. It has no
 * `seq` and is not part of the log: readers skip it, and `last_seq` (the
 * last line sent on this stream, 0 for none) is where `since=` resumes.
 */
export const AUDIT_HEARTBEAT_MS = 3000;

/** The text of a heartbeat line. */
export function heartbeatLine(lastSeq: number, ts: number = Date.now()): string {
  return JSON.stringify({ type: "heartbeat", ts: Math.floor(ts), last_seq: lastSeq });
}

/** The heartbeat's fields, or null when `text` is not a heartbeat. */
export function parseHeartbeat(text: string): { ts: number; last_seq: number } | null {
  if (!text.startsWith('{"type":"heartbeat"')) return null;
  try {
    const o = JSON.parse(text);
    if (o?.type === "heartbeat" && o.seq === undefined && Number.isSafeInteger(o.last_seq) && typeof o.ts === "number") return { ts: o.ts, last_seq: o.last_seq };
  } catch {}
  return null;
}

/** Read a byte stream (a web stream or a node stream) line by line until it ends or `signal` aborts. */
export async function readStreamLines(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>, onLine: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const split = new LineSplitter();
  const it = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const stop = () => void it.return?.().catch(() => {});
  signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { done, value } = await it.next();
      if (done || signal?.aborted) break;
      for (const line of split.push(value)) if (line) onLine(line);
    }
  } catch (e) {
    if (!signal?.aborted) throw e;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}

export interface FollowOptions {
  /** Start reading at this byte offset (default 0: the whole file). */
  offset?: number;
  /** Keep reading as the file grows (default false: stop at its end). */
  follow?: boolean;
  pollMs?: number;
  signal?: AbortSignal;
  /** Called when the file shrank (truncated): reading restarts at its new end. */
  onTruncate?: () => void;
}

/**
 * Read an audit file line by line (complete lines only); with `follow`, keep
 * polling for appended lines until `signal` aborts. Resolves to the offset
 * after the last complete line.
 */
export async function readFileLines(path: string, onLine: (line: string) => void, opts: FollowOptions = {}): Promise<number> {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e: any) {
    throw new HushError(e?.code === "ENOENT" ? "not_found" : "invalid_request", `cannot read audit file ${path}: ${e?.code ?? e}`);
  }
  const buf = Buffer.alloc(1 << 16);
  let offset = opts.offset ?? 0;
  let split = new LineSplitter();
  let done = offset; // offset after the last complete line
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n > 0) {
        offset += n;
        for (const line of split.push(buf.subarray(0, n))) {
          done += Buffer.byteLength(line) + 1;
          if (line) onLine(line);
        }
        continue;
      }
      if (!opts.follow || opts.signal?.aborted) return done;
      const size = fstatSync(fd).size;
      if (size < offset) {
        opts.onTruncate?.();
        offset = done = size;
        split = new LineSplitter();
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => (clearTimeout(t), opts.signal?.removeEventListener("abort", wake), resolve());
        const t = setTimeout(wake, opts.pollMs ?? 250);
        opts.signal?.addEventListener("abort", wake, { once: true });
      });
      if (opts.signal?.aborted) return done;
    }
  } finally {
    closeSync(fd);
  }
}
