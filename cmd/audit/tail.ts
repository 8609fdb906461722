/**
 * `hush audit tail`: audit lines from the daemon (admin.sock; hush.sock or a
 * TLS port with an admin credential; live with -f) or from a file. A
 * colour-free table on a terminal, the log's own JSON Lines when piped or
 * with --json. With -f it checks the stream's chain and heartbeats, and ends
 * with exit 0 only after a run's stop line and closing seal. @module
 */
import { defineCommand } from "citty";
import { oneOf } from "../_argv.ts";
import { HushError } from "../../src/errors.ts";
import { parseDuration, parsePositiveInt } from "../../src/config/index.ts";
import * as audit from "../../src/audit/index.ts";
import { EXIT, adminArgs, hint, jsonArgs } from "../_shared.ts";
import { followDaemon } from "./_follow.ts";

type Print = (text: string, line: audit.AuditLine) => void;

export default defineCommand({
  meta: { name: "tail", description: "Show audit lines from the daemon or from --file FILE; -f keeps following (exit 0 when the run stops cleanly, 6 when the stream breaks or goes silent)." },
  args: {
    follow: { type: "boolean", alias: "f", description: "keep printing lines as they are written, until the run's stop line and closing seal" },
    since: { type: "string", description: "start at this seq (inclusive) instead of the last lines", valueHint: "SEQ" },
    lines: { type: "string", alias: "n", description: "how many of the last lines to show first (default 20)", valueHint: "N" },
    actor: { type: "string", description: "only events by this actor (key id or source)", valueHint: "ID" },
    action: { type: "string", description: "only this action, or a prefix ending in * (cred.*)", valueHint: "A" },
    result: { type: "string", description: "only events with this result: ok, denied or error", valueHint: "R" },
    file: { type: "string", description: "read this audit file instead of asking the daemon", valueHint: "FILE" },
    "heartbeat-timeout": { type: "string", description: "with -f: give up (exit 6) after this long without a line or heartbeat (default 15s, at least 4s)", valueHint: "DURATION" },
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const since = args.since === undefined ? undefined : args.since === "0" ? 0 : parsePositiveInt(args.since, "--since");
    const last = since === undefined ? (args.lines ? parsePositiveInt(args.lines, "--lines") : 20) : Infinity;
    if (args.result) oneOf(args.result, "--result", ["ok", "denied", "error"]);
    const silence = args["heartbeat-timeout"] ? parseDuration(args["heartbeat-timeout"], "--heartbeat-timeout") : 15_000;
    if (silence < 4000) throw new HushError("invalid_request", `--heartbeat-timeout must be at least 4s (the daemon sends a heartbeat every ${audit.AUDIT_HEARTBEAT_MS / 1000}s)`);
    const filter: audit.AuditFilter = { since, actor: args.actor || undefined, action: args.action || undefined, result: args.result || undefined };
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.on("SIGINT", stop).on("SIGTERM", stop);
    process.stdout.on("error", stop); // EPIPE: the reader went away (`| head`)
    const table = !args.json && process.stdout.isTTY;
    let header = table;
    const print: Print = (text, l) => {
      if (header) process.stdout.write(audit.AUDIT_TABLE_HEADER + "\n");
      header = false;
      process.stdout.write((table ? audit.formatAuditRow(l) : text) + "\n");
    };
    // Show only the last `last` matching lines of what exists, then everything new.
    let ring: [string, audit.AuditLine][] | null = last === Infinity ? null : [];
    let lineNo = 0;
    const onLine = (text: string) => {
      lineNo++;
      const l = audit.parseAuditLine(text);
      if (!l) return hint(`line ${lineNo} is not an audit line; skipped`, "warning");
      if (!audit.matchAuditLine(l, filter)) return;
      if (!ring) return print(text, l);
      ring.push([text, l]);
      if (ring.length > last) ring.shift();
    };
    const flushRing = () => {
      for (const [t, l] of ring ?? []) print(t, l);
      ring = null;
    };
    try {
      if (args.file) {
        const end = await audit.readFileLines(args.file, onLine);
        flushRing();
        if (args.follow && !ac.signal.aborted) {
          await audit.readFileLines(args.file, onLine, { offset: end, follow: true, signal: ac.signal, onTruncate: () => hint(`${args.file} shrank: it was truncated or replaced`, "warning") });
        }
        return EXIT.ok;
      }
      return await followDaemon(args, since, last, onLine, flushRing, () => ring !== null, silence, ac);
    } finally {
      process.off("SIGINT", stop).off("SIGTERM", stop);
    }
  },
});
