/**
 * The audit routes (PROTOCOL.md §8, §9): `GET /v1/admin/audit` streams the
 * log's own lines, byte for byte (the reader checks the `seq`/`prev` chain
 * itself, so a gap or an edit in transit is caught); `POST
 * /v1/admin/audit/hash` gives the HMAC form of a value so admins can search
 * the log without it holding the value.
 *
 *   ?since=SEQ   lines from SEQ (inclusive)     ?tail=N   the last N lines
 *   ?follow=1    keep streaming new lines, with heartbeats while none is written,
 *                until the run's closing seal (the answer is unsigned: §4)
 * @module
 */
import { HushError } from "../errors.ts";
import { utf8 } from "../crypto/index.ts";
import { AUDIT_HEARTBEAT_MS, auditHash, heartbeatLine, parseAuditLine, readFileLines } from "../audit/index.ts";
import type { State } from "./state.ts";
import { type Answer, ok, parseObject } from "./http.ts";

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new HushError("invalid_request", `${name} must be a non-negative integer`);
  return Number(v);
}

/**
 * GET /v1/admin/audit. With `follow=1` the stream stays open: new lines as
 * they are written, a heartbeat line every AUDIT_HEARTBEAT_MS (so idle
 * timeouts do not cut it), and it ends once the run's `stop` line and
 * closing seal have been sent (or when the daemon's stop ends it).
 */
export function auditStream(st: State, search: string): Answer {
  const w = st.auditLog;
  if (!w) throw new HushError("not_found", "this daemon has no audit file (serve --audit-file FILE)");
  const q = new URLSearchParams(search);
  const since = intParam(q, "since");
  const tail = intParam(q, "tail");
  const follow = q.get("follow") === "1";
  let finish: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      let lastSeq = 0;
      let live = false;
      let runEnded = false;
      let done = false;
      let unsubscribe: (() => void) | undefined;
      let heartbeat: ReturnType<typeof setInterval> | undefined;
      const early: string[] = [];
      const end = (finish = () => {
        if (done) return;
        done = true;
        clearInterval(heartbeat);
        unsubscribe?.();
        st.streams.delete(end);
        try {
          ctrl.close();
        } catch {}
      });
      const enqueue = (text: string) => {
        if (done) return;
        try {
          ctrl.enqueue(utf8(text + "\n"));
        } catch {
          end();
        }
      };
      const send = (line: string) => {
        const seq = parseAuditLine(line)?.seq ?? 0;
        if (seq <= lastSeq) return;
        lastSeq = seq;
        enqueue(line);
      };
      if (follow) {
        st.streams.add(end);
        // Subscribe first, then read the file: nothing written in between is lost. The
        // writer hands out the stop line and closing seal before it says the run ended.
        unsubscribe = w.subscribe(
          (l) => (live ? send(l) : early.push(l)),
          () => ((runEnded = true), live && end()),
        );
      }
      const lines: string[] = [];
      await readFileLines(w.path, (l) => lines.push(l));
      let pick = lines;
      if (since !== undefined) pick = lines.filter((l) => (parseAuditLine(l)?.seq ?? 0) >= since);
      else if (tail !== undefined) pick = lines.slice(Math.max(0, lines.length - tail));
      for (const l of pick) send(l);
      if (!follow) return ctrl.close();
      // A line written while the file was read may be in both; send() skips it.
      for (const l of early.splice(0)) send(l);
      if (runEnded || done) return end();
      live = true;
      heartbeat = setInterval(() => enqueue(heartbeatLine(lastSeq)), AUDIT_HEARTBEAT_MS);
    },
    cancel() {
      finish?.();
    },
  });
  return { status: 200, body: "", kind: "stream", stream, headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" } };
}

export function routeAuditHash(st: State, body: Uint8Array): Answer {
  const b = parseObject(body);
  if (typeof b.value !== "string") throw new HushError("invalid_request", "value must be a string");
  return ok({ hash: auditHash(b.value, st.auditHmacKey) });
}
