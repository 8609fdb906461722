/**
 * `hush audit verify`: check an audit file offline — its chain always, and
 * with --key-file its seals (format 2: the verification key; format 1: the
 * old X25519 secret key, repeat --key-file for a file that has both). @module
 */
import { fileError } from "../_files.ts";
import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { HushError } from "../../src/errors.ts";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { verifyAuditLog, type VerifyOptions, type VerifyResult } from "../../src/audit/index.ts";
import { collectRepeated } from "../../src/server/creds-load.ts";
import { parsePositiveInt } from "../../src/config/index.ts";
import { EXIT, formatTime, hint, jsonArgs, printJson } from "../_shared.ts";
import { readSecretFile } from "../_credentials.ts";

function readOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e: any) {
    const fe = fileError(e, "read", what, path);
    // audit verify: exit 3 for a missing file (its help says so).
    throw e?.code === "ENOENT" ? new HushError("not_found", fe.message, fe.detail) : fe;
  }
}

/** Sort the --key-file files into the verification key (format 2) and the old secret key (format 1). */
function loadKeys(files: string[]): Pick<VerifyOptions, "verifyKey" | "auditSecretKey"> {
  const keys: Pick<VerifyOptions, "verifyKey" | "auditSecretKey"> = {};
  for (const f of files) {
    const s = parseKeyFile(readSecretFile(f, "--key-file", "they could have chosen the key that vouches for the log"));
    const kind = s.toUpperCase().startsWith(HRP.auditState) ? "state" : s.toUpperCase().startsWith(HRP.auditSecret) ? "v1" : "v2";
    if (kind === "state") throw new HushError("invalid_request", `${f} is the daemon's sealing state, not the verification key: pass the HUSH-AUDIT-VERIFY-1… file from \`hush keygen audit --out\``);
    const field = kind === "v1" ? "auditSecretKey" : "verifyKey";
    if (keys[field]) throw new HushError("invalid_request", `two ${kind === "v1" ? "format-1 audit secret keys" : "verification keys"} given; pass one of each kind at most`);
    const key = decodeKeyString(kind === "v1" ? HRP.auditSecret : HRP.auditVerify, s, kind === "v1" ? "audit secret key" : "audit verification key");
    if (key.length !== 32) throw new HushError("invalid_request", `${f}: wrong key length`);
    keys[field] = key;
  }
  return keys;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

function report(r: VerifyResult): string[] {
  const out = [`lines checked: ${r.lines}${r.ok ? ` (${plural(r.runs, "run")})` : " before the break"}`];
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

export default defineCommand({
  meta: {
    name: "verify",
    description: "Verify an audit file offline: seq and prev chain always; with --key-file every seal, and which lines it vouches for. Exit 1 on any break.",
  },
  args: {
    file: { type: "string", required: true, description: "the audit file", valueHint: "FILE" },
    "key-file": {
      type: "string",
      description: "the verification key (HUSH-AUDIT-VERIFY-1…, from `hush keygen audit`); repeat with the old HUSH-AUDIT-KEY-1… for format-1 runs",
      valueHint: "FILE",
    },
    closed: { type: "boolean", description: "the daemon has stopped: every run must have its stop line, and the file must end with the closing seal" },
    "allow-unsealed": { type: "boolean", description: "with --key-file, accept runs written without sealing before the first sealed run (reported as unsealed)" },
    "first-epoch": { type: "string", description: "the file continues an older one: its first sealed run starts at this epoch (the older file's `next epoch`; default 0)", valueHint: "N" },
    ...jsonArgs,
  },
  run({ args, rawArgs }) {
    const keys = loadKeys(collectRepeated(rawArgs, "--key-file"));
    const firstEpoch = args["first-epoch"] === undefined || args["first-epoch"] === "0" ? 0 : parsePositiveInt(args["first-epoch"], "--first-epoch");
    const r = verifyAuditLog(readOrFail(args.file, "audit file"), { ...keys, firstEpoch, requireClosed: args.closed, allowUnsealedRuns: args["allow-unsealed"] });
    keys.verifyKey?.fill(0), keys.auditSecretKey?.fill(0);
    if (args.json) printJson(r);
    else process.stdout.write(report(r).join("\n") + "\n");
    for (const w of r.warnings) hint(w, "warning");
    if (!r.ok) {
      const e = r.error!;
      const where = (e.seq === null ? "" : ` at seq ${e.seq}`) + (e.line ? ` (line ${e.line})` : "");
      process.stderr.write(`hush: error: audit log broken${where}: ${e.reason}\n`);
      return EXIT.error;
    }
    return EXIT.ok;
  },
});
