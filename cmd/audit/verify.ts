/** `hush audit verify`: check an audit file's chain and, with the audit secret key, its seals. @module */
import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { HushError } from "../../src/errors.ts";
import { HRP, decodeKeyString, parseKeyFile } from "../../src/keys/index.ts";
import { verifyAuditLog } from "../../src/audit/index.ts";
import { EXIT, hint, jsonArgs, printJson, warnIfLoose } from "../_shared.ts";

function readOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e: any) {
    throw new HushError(e?.code === "ENOENT" ? "not_found" : "invalid_request", `cannot read ${what} ${path}: ${e?.code ?? e}`);
  }
}

export default defineCommand({
  meta: { name: "verify", description: "Verify an audit file offline: seq, prev chain and, with --key-file, every seal. Exit 1 on any break." },
  args: {
    file: { type: "string", required: true, description: "the audit file", valueHint: "FILE" },
    "key-file": { type: "string", description: "the audit secret key (HUSH-AUDIT-KEY-1…, from `hush keygen audit`): check seals", valueHint: "FILE" },
    closed: { type: "boolean", description: "the daemon has stopped: the file must end with its closing seal (detects truncation)" },
    "allow-unsealed": { type: "boolean", description: "with --key-file, accept runs written without --audit-key" },
    ...jsonArgs,
  },
  run({ args }) {
    let key: Uint8Array | undefined;
    if (args["key-file"]) {
      warnIfLoose(args["key-file"]);
      const text = readOrFail(args["key-file"], "audit key file").toString("utf8");
      key = decodeKeyString(HRP.auditSecret, parseKeyFile(text), "audit secret key");
      if (key.length !== 32) throw new HushError("invalid_request", "audit secret key: wrong length");
    }
    const r = verifyAuditLog(readOrFail(args.file, "audit file"), { auditSecretKey: key, requireClosed: args.closed, allowUnsealedRuns: args["allow-unsealed"] });
    key?.fill(0);
    if (args.json) printJson(r);
    else {
      const last = r.lastSealedSeq === null ? "none" : `seq ${r.lastSealedSeq}`;
      const out = [`lines checked: ${r.lines}${r.ok ? ` (${r.runs} run${r.runs === 1 ? "" : "s"})` : " before the break"}`];
      out.push(r.sealsChecked ? `seals checked: ${r.seals}; last sealed: ${last}` : `seals: ${r.seals} found, NOT checked (no --key-file); last seal: ${last}`);
      if (r.ok) {
        const why = r.runs === 0 ? "empty file" : r.closed ? "closed cleanly" : "run still open, crashed, or cut";
        out.push(`unsealed tail: ${r.unsealedTail} line${r.unsealedTail === 1 ? "" : "s"} (${why})`);
        for (const u of r.unsealed.filter((u) => u.to !== r.lastSeq)) out.push(`unsealed (run ended without a seal): seq ${u.from}..${u.to}`);
      }
      process.stdout.write(out.join("\n") + "\n");
    }
    if (!r.ok) {
      const e = r.error!;
      const where = (e.seq === null ? "" : ` at seq ${e.seq}`) + (e.line ? ` (line ${e.line})` : "");
      process.stderr.write(`hush: error: audit log broken${where}: ${e.reason}\n`);
      return EXIT.error;
    }
    if (!key) hint("seals were not checked; pass --key-file with the audit secret key");
    return EXIT.ok;
  },
});
