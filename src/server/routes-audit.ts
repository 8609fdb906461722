/**
 * The audit routes (PROTOCOL.md §8, §9): `GET /v1/admin/audit` streams the
 * log's own lines, byte for byte (the reader checks the `seq`/`prev` chain
 * itself, so a gap or an edit in transit is caught); `POST
 * /v1/admin/audit/hash` gives the HMAC form of a value so admins can search
 * the log without it holding the value.
 *
 *   ?since=SEQ   lines from SEQ (inclusive)     ?tail=N   the last N lines
 *   ?follow=1    keep streaming new lines (the answer is unsigned: §4)
 * @module
 */
import { HushError } from "../errors.ts";
import { utf8 } from "../crypto/index.ts";
import { auditHash, parseAuditLine, readFileLines } from "../audit/index.ts";
import type { State } from "./state.ts";
import { type Answer, ok, parseObject } from "./http.ts";

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new HushError("invalid_request", `${name} must be a non-negative integer`);
  return Number(v);
}

export function auditStream(st: State, search: string): Response {
  const w = st.auditLog;
  if (!w) throw new HushError("not_found", "this daemon has no audit file (serve --audit-file FILE)");
  const q = new URLSearchParams(search);
  const since = intParam(q, "since");
  const tail = intParam(q, "tail");
  const follow = q.get("follow") === "1";
  let unsubscribe: (() => void) | undefined;
  let closer: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      if (follow) {
        closer = () => {
          unsubscribe?.();
          try {
            ctrl.close();
          } catch {}
        };
        st.streams.add(closer);
      }
      let lastSeq = 0;
      let live = false;
      const early: string[] = [];
      const send = (line: string) => {
        const seq = parseAuditLine(line)?.seq ?? 0;
        if (seq <= lastSeq) return;
        lastSeq = seq;
        try {
          ctrl.enqueue(utf8(line + "\n"));
        } catch {
          unsubscribe?.();
        }
      };
      // Subscribe first, then read the file: nothing written in between is lost.
      if (follow) unsubscribe = w.subscribe((l) => (live ? send(l) : early.push(l)));
      const lines: string[] = [];
      await readFileLines(w.path, (l) => lines.push(l));
      let pick = lines;
      if (since !== undefined) pick = lines.filter((l) => (parseAuditLine(l)?.seq ?? 0) >= since);
      else if (tail !== undefined) pick = lines.slice(Math.max(0, lines.length - tail));
      for (const l of pick) send(l);
      if (!follow) return ctrl.close();
      // A line written while the file was read may be in both; send() skips it.
      for (const l of early) send(l);
      live = true;
    },
    cancel() {
      unsubscribe?.();
      if (closer) st.streams.delete(closer);
    },
  });
  return new Response(stream, { headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" } });
}

export function routeAuditHash(st: State, body: Uint8Array): Answer {
  const b = parseObject(body);
  if (typeof b.value !== "string") throw new HushError("invalid_request", "value must be a string");
  return ok({ hash: auditHash(b.value, st.auditHmacKey) });
}
