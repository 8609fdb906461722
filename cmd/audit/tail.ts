/**
 * `hush audit tail`: audit lines from the daemon (admin socket; live with
 * -f) or from a file. A colour-free table on a terminal, the log's own JSON
 * Lines when piped or with --json. @module
 */
import { defineCommand } from "citty";
import { HushError } from "../../src/errors.ts";
import { adminSocketPath, defaultSocketPath, parsePositiveInt } from "../../src/config/index.ts";
import { decodeCredential, parseKeyFile } from "../../src/keys/index.ts";
import { signRequest } from "../../src/auth/index.ts";
import { raiseFromResponse } from "../../src/client/errors.ts";
import { checkedSocketPath } from "../../src/client/transport.ts";
import * as audit from "../../src/audit/index.ts";
import { readFileSync } from "node:fs";
import { EXIT, adminArgs, hint, jsonArgs, socketOwner, warnIfLoose } from "../_shared.ts";

type Print = (text: string, line: audit.AuditLine) => void;

export default defineCommand({
  meta: { name: "tail", description: "Show audit lines from the daemon (admin socket) or from --file FILE; -f keeps following." },
  args: {
    follow: { type: "boolean", alias: "f", description: "keep printing lines as they are written" },
    since: { type: "string", description: "start at this seq (inclusive) instead of the last lines", valueHint: "SEQ" },
    lines: { type: "string", alias: "n", description: "how many of the last lines to show first (default 20)", valueHint: "N" },
    actor: { type: "string", description: "only events by this actor (key id or source)", valueHint: "ID" },
    action: { type: "string", description: "only this action, or a prefix ending in * (cred.*)", valueHint: "A" },
    result: { type: "string", description: "only events with this result: ok, denied or error", valueHint: "R" },
    file: { type: "string", description: "read this audit file instead of asking the daemon", valueHint: "FILE" },
    ...adminArgs,
    ...jsonArgs,
  },
  async run({ args }) {
    const since = args.since === undefined ? undefined : args.since === "0" ? 0 : parsePositiveInt(args.since, "--since");
    const last = since === undefined ? (args.lines ? parsePositiveInt(args.lines, "--lines") : 20) : Infinity;
    if (args.result && !["ok", "denied", "error"].includes(args.result)) throw new HushError("invalid_request", "--result must be ok, denied or error");
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
      const chain = new audit.ChainFollower();
      const q = new URLSearchParams(since === undefined ? { tail: String(last) } : { since: String(since) });
      if (args.follow) q.set("follow", "1");
      const body = await openStream(args, `/v1/admin/audit?${q}`, ac.signal);
      // History first; with -f the stream never ends, so the ring is flushed at the first pause.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await audit.readStreamLines(body, (text) => {
        const l = audit.parseAuditLine(text);
        if (l) chain.check(text, l);
        onLine(text);
        clearTimeout(timer);
        if (ring) timer = setTimeout(flushRing, 200);
      }, ac.signal);
      clearTimeout(timer);
      flushRing();
      if (args.follow && !ac.signal.aborted) {
        hint("the daemon ended the stream", "warning");
        return EXIT.unavailable;
      }
      return EXIT.ok;
    } finally {
      process.off("SIGINT", stop).off("SIGTERM", stop);
    }
  },
});

/** GET a streamed admin endpoint: admin.sock, or hush.sock signed with an admin credential. */
async function openStream(args: { socket?: string; "socket-owner"?: string; "admin-credential-file"?: string }, target: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  const socket = args.socket || defaultSocketPath();
  const file = args["admin-credential-file"];
  let credText = process.env.HUSH_ADMIN_CREDENTIAL;
  if (file) {
    warnIfLoose(file);
    try {
      credText = readFileSync(file, "utf8");
    } catch (e: any) {
      throw new HushError("invalid_request", `cannot read admin credential file ${file}: ${e?.code ?? e}`);
    }
  }
  const headers: Record<string, string> = {};
  let path = adminSocketPath(socket);
  if (credText) {
    const cred = decodeCredential(parseKeyFile(credText));
    headers.authorization = signRequest(cred.macKey, cred.keyId, { method: "GET", target }).authorization;
    cred.macKey.fill(0), cred.encKey.fill(0);
    path = socket;
  }
  const via = checkedSocketPath(path, socketOwner(args));
  let res: Response;
  try {
    res = await fetch("http://localhost" + target, { headers, unix: via, signal } as RequestInit);
  } catch (e: any) {
    throw new HushError("unavailable", `cannot reach the hush daemon at ${path} (${e?.code ?? e?.message ?? e})`, { connect: true });
  }
  if (res.status >= 400 || !res.body) {
    const body = await res.text();
    raiseFromResponse({ status: res.status, header: (n) => res.headers.get(n), body });
  }
  return res.body!;
}
