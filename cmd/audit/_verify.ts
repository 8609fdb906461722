/**
 * What `hush audit verify` reads and prints: the key files sorted by kind,
 * one log's report, and for several logs the merged lines (a table with a
 * LOG column, or JSON) and the breaks, each naming its log. @module
 */
import { fileError } from "../_files.ts";
import { readFileSync } from "node:fs";
import { HushError } from "../../src/errors.ts";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import * as audit from "../../src/audit/index.ts";
import { formatTime, hint, printTable } from "../_shared.ts";
import { readSecretFile } from "../_credentials.ts";

export function readOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e: any) {
    const fe = fileError(e, "read", what, path);
    // audit verify: exit 3 for a missing file (its help says so).
    throw e?.code === "ENOENT" ? new HushError("not_found", fe.message, fe.detail) : fe;
  }
}

export interface Keys {
  /** Verification keys (format 2), at most one per key id. */
  verifyKeys: Uint8Array[];
  /** The format-1 audit secret key (hush 0.1.0), at most one. */
  auditSecretKey?: Uint8Array;
}

/** Sort the --key-file files into verification keys (format 2, one per key id) and the old secret key (format 1). */
export function loadKeys(files: string[]): Keys {
  const keys: Keys = { verifyKeys: [] };
  for (const f of files) {
    const s = parseKeyFile(readSecretFile(f, "--key-file", "they could have chosen the key that vouches for the log"));
    const kind = s.toUpperCase().startsWith(HRP.auditState) ? "state" : s.toUpperCase().startsWith(HRP.auditSecret) ? "v1" : "v2";
    if (kind === "state") throw new HushError("invalid_request", `${f} is the daemon's sealing state, not the verification key: pass the HUSH-AUDIT-VERIFY-1… file from \`hush keygen audit --out\``);
    if (kind === "v1" && keys.auditSecretKey) throw new HushError("invalid_request", "two format-1 audit secret keys given; pass one at most");
    const key = decodeKeyString(kind === "v1" ? HRP.auditSecret : HRP.auditVerify, s, kind === "v1" ? "audit secret key" : "audit verification key");
    if (key.length !== 32) throw new HushError("invalid_request", `${f}: wrong key length`);
    if (kind === "v1") keys.auditSecretKey = key;
    else if (keys.verifyKeys.some((k) => audit.sealKeyId(k) === audit.sealKeyId(key))) throw new HushError("invalid_request", `${f}: this verification key (key id ${audit.sealKeyId(key)}) is given twice`);
    else keys.verifyKeys.push(key);
  }
  return keys;
}

export function wipeKeys(k: Keys): void {
  for (const v of k.verifyKeys) v.fill(0);
  k.auditSecretKey?.fill(0);
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

/** The report of one log, line by line (`keyMissing`: its chain was checked, not its seals). */
export function report(r: audit.VerifyResult, keyMissing = false): string[] {
  const out = [`lines checked: ${r.lines}${r.ok || keyMissing ? ` (${plural(r.runs, "run")})` : " before the break"}`];
  const last = r.lastSealedSeq === null ? "none" : `seq ${r.lastSealedSeq}`;
  out.push(r.sealsChecked ? `seals checked: ${r.seals}; last sealed: ${last}` : `seals: ${r.seals} found, NOT checked (no --key-file); last seal: ${last}`);
  if (!r.ok) return out;
  if (r.vouched) {
    const v = r.vouched;
    out.push(
      `vouched for: seq 1..${v.toSeq} (${formatTime(v.fromTs)} to ${formatTime(v.toTs)}), sealed epochs ${v.epochs.from}..${v.epochs.to}: ` +
        "these lines are as the daemon wrote them, unless its sealing state was stolen before they were sealed",
    );
  } else if (r.sealsChecked) out.push("vouched for: nothing (no verified format-2 seal)");
  const why = r.runs === 0 ? "empty file" : r.closed ? "closed cleanly" : "run still open, crashed, or cut";
  out.push(`unsealed tail: ${plural(r.unsealedTail, "line")} (${why})`);
  for (const u of r.notStopped) if (u.to !== r.lastSeq) out.push(`run without a stop line: seq ${u.from}..${u.to} (the daemon crashed, or the run was cut and another appended)`);
  for (const u of r.unsealed.filter((u) => u.to !== r.lastSeq)) out.push(`unsealed (run ended without a seal): seq ${u.from}..${u.to}`);
  if (r.nextEpoch !== null) out.push(`next epoch: ${r.nextEpoch}`);
  return out;
}

/**
 * `hush: error: [LOG: ]audit log broken at seq S (line L): reason` for a log that failed, or
 * `hush: error: [LOG: ]not verified: reason` for one whose verification key was not given.
 */
export function brokenLine(r: audit.VerifyResult, log?: string, keyMissing = false): string {
  const e = r.error!;
  const where = (e.seq === null ? "" : ` at seq ${e.seq}`) + (e.line ? ` (line ${e.line})` : "");
  const what = keyMissing ? "not verified" : `audit log broken${where}`;
  return `hush: error: ${log === undefined ? "" : `${audit.escapeForTerminal(log)}: `}${what}: ${e.reason}\n`;
}

/**
 * Several logs: the merged lines (a table with a LOG column first, each
 * column as wide as its widest cell; the table is what a person reads, so
 * it is printed piped or not), then each
 * log's report under its name; breaks on stderr, one per broken log;
 * warnings once, with the logs they concern.
 */
export function printLogs(res: audit.LogsResult, json: boolean): void {
  const names = res.logs.map((l) => l.name);
  if (json) {
    const logs = res.logs.map((l) => ({ file: l.name, key_id: l.keyId, key_missing: l.keyMissing, ...l.result }));
    process.stdout.write(JSON.stringify({ ok: res.ok, logs, lines: res.merged.map((m) => ({ log: names[m.log], line: m.line })) }) + "\n");
  } else {
    const labels = names.map(audit.escapeForTerminal);
    // Printed whole, so each column is as wide as what it holds (audit tail's fixed widths are for a stream).
    printTable(["LOG", ...audit.AUDIT_TABLE_COLUMNS], res.merged.map((m) => [labels[m.log]!, ...audit.auditCells(m.line)]));
    const out: string[] = [];
    for (const [i, l] of res.logs.entries()) {
      const state = l.result.ok ? "intact" : l.keyMissing ? "NOT VERIFIED" : "BROKEN";
      out.push("", `${labels[i]}: ${state}${l.keyId ? ` (key id ${l.keyId})` : ""}`, ...report(l.result, l.keyMissing).map((x) => "  " + x));
    }
    process.stdout.write(out.join("\n") + "\n");
  }
  const warned = new Map<string, string[]>();
  for (const l of res.logs) for (const w of l.result.warnings) warned.set(w, [...(warned.get(w) ?? []), l.name]);
  for (const [w, logs] of warned) hint(`${logs.map(audit.escapeForTerminal).join(", ")}: ${w}`, "warning");
  for (const w of res.warnings) hint(w, "warning");
  for (const l of res.logs) if (!l.result.ok) process.stderr.write(brokenLine(l.result, l.name, l.keyMissing));
}
