/**
 * Failures of requests the daemon could not attribute to a key it trusts —
 * signed requests that fail verification (PROTOCOL.md §3), refused joins
 * (§5) and refused rekeys (§6) — accounted by what the caller cannot
 * choose: its **source** (an IPv4 address, an IPv6 /64, or `unix` for every
 * caller on a unix socket; src/server/joinlimit.ts `sourceOf`), the kind of
 * attempt (`auth`, `join`, `rekey`) and the reason. Key ids, token ids and
 * bodies are the caller's to choose, so they never decide how much is
 * written: a flood with a fresh key id per request costs the audit log and
 * the daemon's log what one source costs.
 *
 * Per window of `intervalMs` (default 60 s; a window starts with its first
 * failure):
 *
 * - the first failure of each (source, action, reason) is written at once,
 *   as a full event with its `corr_id`, for the first `maxRecords` (16)
 *   distinct triples; later ones are only counted;
 * - when the window ends (the daemon's sweeper, every second, or at stop),
 *   one summary record per triple with its count (`failures`, and `limited`:
 *   how many were answered `rate_limited`), for the `maxRecords` triples
 *   with the most failures (a triple with one failure, already written, gets
 *   none); the rest fold into one overflow record per action (`source: "*"`,
 *   `sources`: how many distinct triples it holds, `failures`: those no
 *   other record of the window counts). At most `maxTracked`
 *   (4 096) triples are told apart in memory; beyond that, failures go to
 *   the overflow records at once (`hush_failure_overflow_total`).
 *
 * So whatever the key ids, one window writes at most 2 × maxRecords + 3
 * audit records and as many log lines (SECURITY.md gives the bound in bytes).
 *
 * **Limit.** Each source may fail `rate` times per second (default 10,
 * bursts of 20); past that, a failing signed request is answered `429
 * rate_limited` with `Retry-After` instead of `401 auth_failed`
 * (`hush_rejected_total{reason="auth_rate"}`). Only requests that have
 * *already failed* verification are refused, so a flood from a source, or
 * on the shared unix socket, never turns away a request that verifies.
 * Joins keep their own limiter (joinlimit.ts), charged on every attempt.
 * @module
 */
import { RateLimiter } from "./ratelimit.ts";
import { sourceOf } from "./joinlimit.ts";
import type { AuditEvent, State } from "./state.ts";
import type { DaemonConfig } from "../config/index.ts";

export type FailureAction = "auth" | "join" | "rekey";

/** One failure, as the stage or route that refused it saw it. */
export interface Failure {
  action: FailureAction;
  /** The precise reason (§3, §5, §6); a closed vocabulary. */
  reason: string;
  /** The request's transport peer: an IP address, or "unix". */
  peer: string;
  corrId: string;
  /** The key id the request named (auth, rekey), if any. */
  keyId?: string;
  /** The route label (metrics.ts `routeLabel`), for `auth`. */
  target?: string;
  /** The answer was `rate_limited` (the source's failure budget was spent). */
  limited?: boolean;
}

/** DaemonConfig.failures: the window (ms), records per window, triples told apart, failures per second per source and burst. */
export type FailureConfig = DaemonConfig["failures"];

const VIA: Record<FailureAction, string> = { auth: "worker", join: "join", rekey: "worker" };

interface Entry {
  source: string;
  action: FailureAction;
  reason: string;
  first: Failure;
  failures: number;
  limited: number;
  /** Its first failure was written at once. */
  written: boolean;
}

interface Overflow {
  failures: number;
  limited: number;
  sources: number;
}

/** A record to write: the audit event and its log line's fields. */
export interface FailureRecord {
  event: AuditEvent;
  summary: boolean;
}

export class FailureLedger {
  private readonly limiter: RateLimiter;
  private entries = new Map<string, Entry>();
  private overflow = new Map<FailureAction, Overflow>();
  private windowStart = 0;
  private written = 0;
  /** Failures that went into an overflow record, by action, since start (`hush_failure_overflow_total`). */
  readonly overflowed = new Map<FailureAction, number>();

  constructor(
    readonly config: FailureConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new RateLimiter(config.rate, config.burst);
  }

  /** The source a peer counts as: "unix", an IPv4 address or an IPv6 /64. */
  static sourceOf(peer: string): string {
    return peer === "unix" ? "unix" : sourceOf(peer).source.slice(0, 64);
  }

  /** Charge one failure to the peer's source: 0 when it may be answered as usual, else the seconds to wait. */
  take(peer: string): number {
    return this.limiter.take(FailureLedger.sourceOf(peer));
  }

  /**
   * Count a failure. Returns the record to write at once (the first of its
   * triple in this window, while there is room), or null.
   */
  note(f: Failure): FailureRecord | null {
    const now = this.now();
    if (this.entries.size === 0 && this.overflow.size === 0) this.windowStart = now;
    const source = FailureLedger.sourceOf(f.peer);
    const id = `${f.action}\n${f.reason}\n${source}`;
    const e = this.entries.get(id);
    if (e) {
      e.failures++;
      if (f.limited) e.limited++;
      return null;
    }
    if (this.entries.size >= this.config.maxTracked) {
      this.fold(f.action, 1, f.limited ? 1 : 0, 1);
      return null;
    }
    const written = this.written < this.config.maxRecords;
    this.entries.set(id, { source, action: f.action, reason: f.reason, first: f, failures: 1, limited: f.limited ? 1 : 0, written });
    if (!written) return null;
    this.written++;
    return { event: immediateEvent(f, source), summary: false };
  }

  /**
   * End the window if `intervalMs` has passed since it began (or at once
   * with `all`, at stop): its summary records, most failures first, then the
   * overflow records. Empty when nothing is due.
   */
  flush(all = false): FailureRecord[] {
    if (this.entries.size === 0 && this.overflow.size === 0) return [];
    if (!all && this.now() - this.windowStart < this.config.intervalMs) return [];
    const since = this.windowStart;
    const entries = [...this.entries.values()].filter((e) => !(e.written && e.failures === 1)).sort((a, b) => b.failures - a.failures);
    const out: FailureRecord[] = [];
    for (const e of entries) {
      if (out.length < this.config.maxRecords) out.push({ event: summaryEvent(e, since), summary: true });
      else {
        // The first of a triple already written counts there; the overflow holds what no other record counts.
        const n = e.written ? e.failures - 1 : e.failures;
        this.fold(e.action, n, Math.min(e.limited, n), 1);
      }
    }
    for (const [action, o] of this.overflow) {
      out.push({ event: { actor: "*", source: "*", via: VIA[action], action, result: "denied", failures: o.failures, limited: o.limited || undefined, sources: o.sources, since }, summary: true });
    }
    this.entries = new Map();
    this.overflow = new Map();
    this.written = 0;
    return out;
  }

  private fold(action: FailureAction, failures: number, limited: number, sources: number): void {
    this.overflowed.set(action, (this.overflowed.get(action) ?? 0) + failures);
    const o = this.overflow.get(action);
    if (o) {
      o.failures += failures;
      o.limited += limited;
      o.sources += sources;
    } else this.overflow.set(action, { failures, limited, sources });
  }
}

function immediateEvent(f: Failure, source: string): AuditEvent {
  // A join's actor is its source (no key yet); auth and rekey name the key id the request gave.
  const actor = f.action === "join" ? source : (f.keyId ?? "unknown");
  return { actor, via: VIA[f.action], action: f.action, target: f.target, result: "denied", reason: f.reason, corr_id: f.corrId, source };
}

function summaryEvent(e: Entry, since: number): AuditEvent {
  return { actor: e.source, source: e.source, via: VIA[e.action], action: e.action, result: "denied", reason: e.reason, corr_id: e.first.corrId, failures: e.failures, limited: e.limited || undefined, since };
}

/**
 * Account a failure and write what is due now (the audit record and a
 * `warn` log line). Neither writing can throw out of here: a failing sink
 * or logger must not turn a refusal into an internal error.
 */
export function recordFailure(st: State, f: Failure): void {
  flushFailures(st); // a window that has ended is summarised before the next one begins
  const r = st.failures.note(f);
  if (r) write(st, r);
}

/** Write the records of a window that has ended (every second from the sweeper; `all` at stop). */
export function flushFailures(st: State, all = false): void {
  for (const r of st.failures.flush(all)) write(st, r);
}

function write(st: State, r: FailureRecord): void {
  const ev = r.event;
  try {
    st.audit.record(ev);
  } catch {}
  try {
    if (r.summary) {
      const { source, action, reason, failures, limited, sources, since, corr_id } = ev;
      st.log.warn(SUMMARY[action as FailureAction], { source, reason, failures, limited, sources, since: new Date(since!).toISOString(), first_corr_id: corr_id });
    } else {
      const key = ev.action === "join" ? {} : { key_id: ev.actor };
      st.log.warn(MESSAGE[ev.action as FailureAction], { corr_id: ev.corr_id, reason: ev.reason, source: ev.source, ...key, route: ev.target });
    }
  } catch {}
}

const MESSAGE: Record<FailureAction, string> = { auth: "authentication failed", join: "join refused", rekey: "rekey refused" };
const SUMMARY: Record<FailureAction, string> = { auth: "authentication failures", join: "join refusals", rekey: "rekey refusals" };
