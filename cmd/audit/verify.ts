/**
 * `hush audit verify`: check audit files offline — each file's chain always,
 * and with --key-file its seals (format 2: the verification key, matched to
 * each file by key id; format 1: the old X25519 secret key). Several files
 * (one per daemon, docs/CLUSTER.md §10) are each checked on their own, and
 * the lines that passed are printed merged by time. @module
 */
import { defineCommand } from "citty";
import { UsageError } from "../_report.ts";
import * as audit from "../../src/audit/index.ts";
import { collectRepeated } from "../../src/server/creds-load.ts";
import { parsePositiveInt } from "../../src/config/index.ts";
import { EXIT, hint, jsonArgs, printJson } from "../_shared.ts";
import { brokenLine, loadKeys, printLogs, readOrFail, report, wipeKeys } from "./_verify.ts";

const epoch = (s: string) => (s === "0" ? 0 : parsePositiveInt(s, "--first-epoch"));

export default defineCommand({
  meta: {
    name: "verify",
    description: "Verify audit files offline: seq and prev chain always; with --key-file every seal, and which lines it vouches for. Several files (one per daemon) are printed merged by time. Exit 1 on any break, or on a file whose --key-file is missing.",
  },
  args: {
    files: { type: "positional", required: false, description: "the audit file(s); several: one per daemon", valueHint: "FILE" },
    file: { type: "string", description: "an audit file (the same as a FILE argument; may be repeated)", valueHint: "FILE" },
    "key-file": {
      type: "string",
      description: "a verification key (HUSH-AUDIT-VERIFY-1…, from `hush keygen audit`); one per daemon, each matched to its log by key id; also the old HUSH-AUDIT-KEY-1… for format-1 runs",
      valueHint: "FILE",
    },
    closed: { type: "boolean", description: "the daemons have stopped: every run must have its stop line, and each file must end with the closing seal" },
    "allow-unsealed": { type: "boolean", description: "with --key-file, accept runs written without sealing before the first sealed run (reported as unsealed)" },
    "first-epoch": {
      type: "string",
      description: "the file continues an older one: its first sealed run starts at this epoch (the older file's `next epoch`; default 0); with several files, give it once per file, in their order",
      valueHint: "N",
    },
    ...jsonArgs,
  },
  run({ args, rawArgs }) {
    const files = [...collectRepeated(rawArgs, "--file"), ...((args._ as string[] | undefined) ?? [])];
    if (files.length === 0) throw new UsageError("no audit file given", "pass one or more FILE arguments (run `hush audit verify --help` for examples)");
    const epochs = collectRepeated(rawArgs, "--first-epoch").map(epoch);
    if (epochs.length > 0 && epochs.length !== files.length) {
      throw new UsageError(`--first-epoch is given ${epochs.length} times for ${files.length} files`, "with several files, give it once per file, in their order (0 for a file that does not continue another)");
    }
    const keys = loadKeys(collectRepeated(rawArgs, "--key-file"));
    try {
      const inputs = files.map((name, i) => ({ name, bytes: readOrFail(name, "audit file"), firstEpoch: epochs[i] ?? 0 }));
      const opts = { ...keys, requireClosed: args.closed, allowUnsealedRuns: args["allow-unsealed"], merge: inputs.length > 1 };
      const res = audit.verifyAuditLogs(inputs, opts);
      if (inputs.length > 1) {
        printLogs(res, !!args.json);
        return res.ok ? EXIT.ok : EXIT.error;
      }
      const [one] = res.logs;
      const r = one.result;
      if (args.json) printJson(r);
      else process.stdout.write(report(r, one.keyMissing).join("\n") + "\n");
      for (const w of r.warnings) hint(w, "warning");
      if (!r.ok) process.stderr.write(brokenLine(r, undefined, one.keyMissing));
      return r.ok ? EXIT.ok : EXIT.error;
    } finally {
      wipeKeys(keys);
    }
  },
});
