/**
 * Reading the daemon's audit stream for `hush audit tail`: the chain and
 * the heartbeats checked, a watchdog for silence, and the exit code that
 * says how the stream ended (PROTOCOL.md §8, "Audit"). @module
 */
import { HushError } from "../../src/errors.ts";
import * as audit from "../../src/audit/index.ts";
import { EXIT, hint } from "../_shared.ts";
import { openAuditStream } from "./_stream.ts";

/** Read the daemon's stream: chain and heartbeats checked, a watchdog for silence. Returns the exit code. */
export async function followDaemon(
  args: Record<string, any>,
  since: number | undefined,
  last: number,
  onLine: (text: string) => void,
  flushRing: () => void,
  ringOpen: () => boolean,
  silenceMs: number,
  ac: AbortController,
): Promise<number> {
  const chain = new audit.ChainFollower();
  const q = new URLSearchParams(since === undefined ? { tail: String(last) } : { since: String(since) });
  if (args.follow) q.set("follow", "1");
  const cut = new AbortController();
  ac.signal.addEventListener("abort", () => cut.abort(), { once: true });
  let silent = false;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(watchdog);
    if (args.follow) watchdog = setTimeout(() => ((silent = true), cut.abort()), silenceMs);
  };
  let lastSeq = 0;
  let ended = false; // the last line is a run's stop line, or the closing seal right after it
  const body = await openAuditStream(args, `/v1/admin/audit?${q}`, cut.signal);
  arm();
  // History first; with -f the stream never ends, so the ring is flushed at the first pause.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let broke: unknown;
  try {
    await audit.readStreamLines(body, (text) => {
      arm();
      const hb = audit.parseHeartbeat(text);
      if (hb) {
        if (lastSeq > 0 && hb.last_seq !== lastSeq) throw new HushError("internal", `audit stream broken: heartbeat says seq ${hb.last_seq} was sent last, but seq ${lastSeq} was received`);
        if (ringOpen()) flushRing();
        return;
      }
      const l = audit.parseAuditLine(text);
      if (l) {
        chain.check(text, l);
        lastSeq = l.seq;
        ended = l.type === "stop" || (l.type === "seal" && ended);
      }
      onLine(text);
      clearTimeout(timer);
      if (ringOpen()) timer = setTimeout(flushRing, 200);
    }, cut.signal);
  } catch (e) {
    if (e instanceof HushError) throw e;
    broke = e;
  } finally {
    clearTimeout(timer);
    clearTimeout(watchdog);
  }
  flushRing();
  if (!args.follow || (ac.signal.aborted && !silent)) {
    if (broke) throw broke;
    return EXIT.ok;
  }
  const resume = `resume with --since ${lastSeq + 1}`;
  if (silent) {
    process.stderr.write(`hush: error: no line or heartbeat from the daemon for ${silenceMs / 1000}s: the connection or the daemon is stuck\n`);
    hint(resume);
    return EXIT.unavailable;
  }
  if (broke) {
    const err = broke as any;
    process.stderr.write(`hush: error: the audit stream broke (${err?.code ?? err?.message ?? err})\n`);
    hint(resume);
    return EXIT.unavailable;
  }
  if (ended) {
    hint(`the daemon stopped; its run ended cleanly at seq ${lastSeq}`);
    return EXIT.ok;
  }
  hint("the daemon ended the stream before the run's stop line", "warning");
  hint(resume);
  return EXIT.unavailable;
}
