/**
 * Recorded changes: the one way a handler changes state that the audit log
 * must show (PROTOCOL.md §9.5, §9.7). A change is stored, audited and
 * answered — or not stored at all. The handler describes it; `runChange`
 * does it in this order:
 *
 * 1. the audit sink must be healthy, else `503 unavailable` (nothing done);
 * 2. `apply()` checks everything and makes the part of the change that
 *    `undo()` can take back exactly (create a key, take a lease, set a
 *    flag). It throws to refuse; a refusal has changed nothing;
 * 3. `records()` builds the audit records (actor, via, `result: "ok"` and
 *    corr_id are filled in), which are committed all or nothing
 *    (AuditSink.commit: every line in the file, or none of them);
 * 4. if 3 fails — a sink that throws, a line the file will not take —
 *    `undo()` runs, the daemon's log says so (a warning with the corr_id:
 *    the change was taken back) and the answer is `503 unavailable` (the
 *    file cannot take the lines; the refused change is recorded as `result:
 *    "error"`, `reason: "unavailable"`, when the file recovers) or `500
 *    internal` with the corr_id (anything thrown, logged by the route stage);
 * 5. `commit()` does what cannot be taken back (revoke and wipe a key, spend
 *    a token use, replace a credential's values), once the records are in
 *    the file. It must not throw for what `apply()` checked; if it throws
 *    anyway (a bug), an `error` record with the same corr_id follows the
 *    `ok` one and the answer is 500;
 * 6. `log()` writes the change's log lines — only now, so the daemon's log
 *    never reports a change that was refused or taken back (a logger that
 *    throws is ignored: the change is made);
 * 7. `answer()`.
 *
 * So a destructive change is checked in `apply()` and done in `commit()`;
 * an additive one is done in `apply()` and taken back in `undo()`. A new
 * store operation that must be audited (src/broker, routes-worker.ts)
 * returns `runChange(c, { apply, undo, records, answer })` from its handler
 * instead of calling the store and the audit sink itself. Changes with no
 * audit record and no log line (KV, locks, pools) are one broker call that
 * validates before it mutates (invariant 8) and need no transaction.
 * `apply` may return a promise (a store behind Redis); so may `undo`.
 * @module
 */
import { HushError } from "../errors.ts";
import type { Answer } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import type { AuditEvent, AuditSink } from "./state.ts";

/** An audit record of a change: `action` and what it names; `actor`, `via`, `result` and `corr_id` default to the request's. */
export type ChangeRecord = Omit<AuditEvent, "result"> & { result?: AuditEvent["result"] };

export interface Change<R> {
  /** `via` of the records (default "admin" on admin routes, "worker" on the others). */
  via?: string;
  apply(): R | Promise<R>;
  records(r: R): ChangeRecord[];
  /** Take back exactly what `apply` did. Must not throw. */
  undo?(r: R): void | Promise<void>;
  log?(r: R): void;
  /** May return a promise (a shared backend): the answer waits for it; a rejection is recorded as an error with the same corr_id. */
  commit?(r: R): unknown;
  answer(r: R): Answer;
}

const UNAVAILABLE = "the audit log cannot be written; refusing until it recovers";

/** Fail closed: nothing that reveals or changes a secret happens while the audit sink cannot write. */
export function requireAudit(sink: AuditSink): void {
  if (!sink.healthy) throw new HushError("unavailable", UNAVAILABLE);
}

/**
 * Write `events` all or nothing: the sink's `commit`, or, for a sink
 * without one, each event and then its health. False when nothing was
 * written (and `refusal` recorded instead).
 */
export function commitRecords(sink: AuditSink, events: readonly AuditEvent[], refusal: AuditEvent): boolean {
  if (sink.commit) return sink.commit(events, refusal);
  if (!sink.healthy) {
    sink.record(refusal);
    return false;
  }
  for (const ev of events) sink.record(ev);
  return true;
}

/** Run a change (see the module comment). A promise only when `apply` or `undo` returns one. */
export function runChange<R>(c: Ctx, ch: Change<R>): Answer | Promise<Answer> {
  requireAudit(c.st.audit);
  const r = ch.apply();
  return r instanceof Promise ? r.then((v) => settle(c, ch, v)) : settle(c, ch, r);
}

function settle<R>(c: Ctx, ch: Change<R>, r: R): Answer | Promise<Answer> {
  const st = c.st;
  let events: AuditEvent[] = [];
  try {
    const via = ch.via ?? (c.area === "admin" ? "admin" : "worker");
    events = ch.records(r).map((e) => ({ actor: c.actor, via, result: "ok", corr_id: c.corrId, ...e }));
    const refusal: AuditEvent = { ...events[0], result: "error", reason: "unavailable", value_hash: undefined };
    if (!commitRecords(st.audit, events, refusal)) throw new HushError("unavailable", `${UNAVAILABLE}; the change was not made`);
  } catch (e) {
    return undoThenThrow(c, ch, r, e, events[0]?.action);
  }
  try {
    const done = ch.commit?.(r);
    if (done instanceof Promise) return done.then(() => finish(c, ch, r, events[0]), (e) => notShared(c, events[0], e));
    return finish(c, ch, r, events[0]);
  } catch (e) {
    // A bug: the records say ok; say that it failed, with the same corr_id.
    try {
      st.audit.record({ ...events[0], result: "error", reason: "internal", value_hash: undefined });
    } catch {}
    throw e;
  }
}

/** After the commit: log, wait for shared writes, answer. */
function finish<R>(c: Ctx, ch: Change<R>, r: R, first: AuditEvent): Answer | Promise<Answer> {
  const st = c.st;
  try {
    ch.log?.(r); // only a change that was made is logged
  } catch {}
  // Keys shared by several daemons: answered once the change is in the backend (docs/CLUSTER.md §10).
  const shared = sharedWrites(st);
  if (shared) return shared.then(() => ch.answer(r), (e) => notShared(c, first, e));
  return ch.answer(r);
}

/** The change was made here but could not be shared (docs/CLUSTER.md §10): the records say ok, so say that it failed, with the same corr_id. */
function notShared(c: Ctx, first: AuditEvent, e: unknown): never {
  try {
    c.st.audit.record({ ...first, result: "error", reason: e instanceof HushError ? e.code : "internal", value_hash: undefined });
  } catch {}
  throw e;
}

function undoThenThrow<R>(c: Ctx, ch: Change<R>, r: R, e: unknown, action: string | undefined): Promise<Answer> | never {
  try {
    c.st.log.warn("change taken back: its audit records could not be written", { corr_id: c.corrId, route: c.label, action, reason: e instanceof HushError ? e.code : "internal" });
  } catch {}
  let u: void | Promise<void> = undefined;
  try {
    u = ch.undo?.(r);
  } catch (ue) {
    logQuietly(c, "undoing a change failed", ue);
  }
  if (u instanceof Promise) {
    return u.then(
      () => Promise.reject(e),
      (ue) => {
        logQuietly(c, "undoing a change failed", ue);
        return Promise.reject(e);
      },
    );
  }
  throw e;
}

/** Keys and join tokens shared by several daemons: a promise of every change made so far reaching the backend, or undefined (nothing to wait for). */
export function sharedWrites(st: Ctx["st"]): Promise<void> | undefined {
  const k = st.registry.flush();
  const t = st.tokens.flush();
  return k && t ? Promise.all([k, t]).then(() => {}) : (k ?? t);
}

/** Log an error; a logger that throws is ignored here (the answer is decided already). */
export function logQuietly(c: Ctx, msg: string, e: unknown): void {
  try {
    c.st.log.error(msg, { corr_id: c.corrId, route: c.label, err: String((e as Error)?.stack ?? e) });
  } catch {}
}
