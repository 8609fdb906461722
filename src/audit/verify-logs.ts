/**
 * Verifying several daemons' audit logs together (docs/CLUSTER.md §10,
 * PROTOCOL.md §9.8). Pure: bytes in, reports and one merged list out.
 *
 * Each daemon keeps its own hash chain and its own sealing state, so each log
 * is checked on its own, exactly as `verifyAuditLog` checks one file, with
 * the verification key whose key id its format-2 runs carry (keys are matched
 * to logs by key id, never by order). Two logs sealed with the same key id
 * are refused: no two daemons share a sealing state, so it is one log given
 * twice, a copy, or a log passed off as another daemon's. When several logs
 * or keys are given and none of the keys has a log's key id, that log is
 * checked without a key (its chain only) and fails as `keyMissing`: nothing
 * in it is vouched for, but nothing says it was tampered with either.
 *
 * The lines that passed every check of their log (all of them, or those
 * before its first break) are then merged by `ts` into one list, each with
 * the name of its log. The merge never reorders the lines of one log (a
 * clock that stepped back keeps them in `seq` order); equal times keep the
 * order the logs were given in.
 * @module
 */
import { fromUtf8 } from "../crypto/index.ts";
import { parseAuditLine, type AuditLine } from "./read.ts";
import { sealKeyId } from "./sealing.ts";
import { verifyAuditLog, type VerifyOptions, type VerifyResult } from "./verify.ts";
import { splitLines } from "./verify-lines.ts";

export interface LogInput {
  /** How the report names the log (the path as given). */
  name: string;
  bytes: Uint8Array;
  /** The epoch its first format-2 run must start at (default 0). */
  firstEpoch?: number;
}

export interface LogsOptions extends Omit<VerifyOptions, "verifyKey" | "firstEpoch"> {
  /** Verification keys (32-byte seeds); each log is checked with the one whose key id it carries. */
  verifyKeys?: Uint8Array[];
  /** Collect the merged lines (default true; false leaves `merged` empty). */
  merge?: boolean;
}

export interface LogReport {
  name: string;
  /** The key id of the log's format-2 runs (null: none). */
  keyId: string | null;
  result: VerifyResult;
  /**
   * Keys were given (with several logs, or several keys), none has this log's
   * key id, and its chain is intact: its seals were not checked, and it fails
   * (`result.ok` false) for that reason only, naming the key id it needs. (A
   * broken chain is reported as broken; its reason then adds the missing key.)
   */
  keyMissing: boolean;
}

export interface MergedLine {
  /** The index of its log in the input. */
  log: number;
  line: AuditLine;
}

export interface LogsResult {
  /** Every log passed. */
  ok: boolean;
  logs: LogReport[];
  /** The lines that passed, merged by time (none of a log whose key is missing). */
  merged: MergedLine[];
  /** Things that concern the set, not one log (a key that matches no log). */
  warnings: string[];
}

/** The first format-2 start line of a log: its key id and place (null: none before the first unreadable line). */
export function firstSealKeyId(bytes: Uint8Array): { keyId: string; seq: number; line: number } | null {
  const { lines } = splitLines(bytes);
  for (let i = 0; i < lines.length; i++) {
    const text = fromUtf8(lines[i]);
    if (!text.includes('"type":"start"')) continue;
    const l = parseAuditLine(text);
    if (l?.type === "start" && typeof l.key_id === "string") return { keyId: l.key_id, seq: l.seq, line: i + 1 };
  }
  return null;
}

/** Verify each log with its own key, then merge the lines that passed by time. Never throws on bad input. */
export function verifyAuditLogs(inputs: LogInput[], opts: LogsOptions = {}): LogsResult {
  const { verifyKeys = [], merge = true, ...common } = opts;
  const ids = verifyKeys.map(sealKeyId);
  const used = new Map<string, string>(); // key id -> the log that carried it first
  const unkeyed: boolean[] = []; // keys were given, none for this log: none of its lines is merged
  const logs: LogReport[] = inputs.map((input) => {
    const first = firstSealKeyId(input.bytes);
    const keyId = first?.keyId ?? null;
    const match = keyId === null ? -1 : ids.indexOf(keyId);
    const noKey = first !== null && match < 0 && verifyKeys.length > 0 && (inputs.length > 1 || verifyKeys.length > 1);
    const verifyKey = verifyKeys.length === 0 || noKey ? undefined : verifyKeys[Math.max(0, match)];
    const result = verifyAuditLog(input.bytes, { ...common, verifyKey, firstEpoch: input.firstEpoch });
    const keyMissing = noKey && result.ok;
    const missing = `no --key-file given for key id ${first?.keyId} (the keys given have ${ids.join(", ")})`;
    if (keyMissing) {
      result.ok = false;
      result.closed = false;
      result.error = { seq: null, line: 0, reason: `${missing}: its chain was checked, its seals were not, so nothing in it is vouched for` };
    } else if (noKey) result.error!.reason += `; and ${missing}`;
    if (first && result.ok && used.has(first.keyId)) {
      fail(result, first.seq, first.line, `this log is sealed with the same key (key id ${first.keyId}) as ${used.get(first.keyId)}: no two daemons share a sealing state, so it is the same log given twice, a copy, or one daemon's log passed off as another's (verify a file that continues another on its own, with --first-epoch)`);
    }
    if (first && !used.has(first.keyId)) used.set(first.keyId, input.name);
    unkeyed.push(noKey);
    return { name: input.name, keyId, result, keyMissing };
  });
  const warnings = ids.filter((id) => !logs.some((l) => l.keyId === id)).map((id) => `the verification key with key id ${id} matches none of the logs`);
  const merged = merge ? mergeByTime(inputs.map((input, i) => verifiedLines(input.bytes, unkeyed[i] ? 0 : logs[i].result.lines))) : [];
  return { ok: logs.every((l) => l.result.ok), logs, merged, warnings };
}

/** Mark a log that passed its own checks as failed for a reason of the set. */
function fail(r: VerifyResult, seq: number, line: number, reason: string): void {
  r.ok = false;
  r.closed = false;
  r.lines = Math.min(r.lines, line - 1);
  r.error = { seq, line, reason };
}

/** The first `n` lines of a log (those that passed its checks), parsed. */
function verifiedLines(bytes: Uint8Array, n: number): AuditLine[] {
  const out: AuditLine[] = [];
  const { lines } = splitLines(bytes);
  for (let i = 0; i < n && i < lines.length; i++) {
    const l = parseAuditLine(fromUtf8(lines[i]));
    if (l) out.push(l);
  }
  return out;
}

/**
 * Merge per-log line lists by `ts`: at each step the head with the smallest
 * time (ties: the earlier log). Each list keeps its own order. O(n·k) for k
 * logs, which are few.
 */
export function mergeByTime(perLog: AuditLine[][]): MergedLine[] {
  const at = perLog.map(() => 0);
  const out: MergedLine[] = [];
  for (;;) {
    let best = -1;
    for (let k = 0; k < perLog.length; k++) {
      if (at[k] >= perLog[k].length) continue;
      if (best < 0 || perLog[k][at[k]].ts < perLog[best][at[best]].ts) best = k;
    }
    if (best < 0) return out;
    out.push({ log: best, line: perLog[best][at[best]++] });
  }
}
