/**
 * Audit events (PROTOCOL.md §9.5): what callers record, and the fields of an
 * `event` line made from one — in line order, every string passed through
 * the `mask` hook (secret masking, invariant 2) and cut to 512 characters,
 * numbers kept only when they are non-negative safe integers.
 * @module
 */

export type AuditResult = "ok" | "denied" | "error";

/** One audit event. Ids and names only, never a secret value. */
export interface AuditEvent {
  actor?: string;
  via?: string;
  action: string;
  target?: string;
  result?: AuditResult;
  reason?: string;
  corr_id?: string;
  /** `hmac-sha256:…` of a value (never the value): found with `hush audit hash`. */
  value_hash?: string;
  /** Where an unauthenticated failure came from: an IPv4 address, an IPv6 /64, `unix`, or `*` (the overflow record). */
  source?: string;
  /** A failure summary (PROTOCOL.md §9.5): failures in the window, of them answered `rate_limited`, the window's start (ms), distinct sources folded into an overflow record. */
  failures?: number;
  limited?: number;
  since?: number;
  sources?: number;
}

/** The fields of an event line after `seq, ts, type, prev`. */
export type EventFields = Record<string, string | number>;

const FIELDS = ["actor", "via", "action", "target", "result", "reason", "corr_id", "value_hash", "source"] as const;
const NUMBERS = ["failures", "limited", "since", "sources"] as const;
/** The longest string field, in UTF-16 code units; longer ones end in `…`. */
export const MAX_FIELD = 512;

/** A string as a line holds it: masked, then cut to MAX_FIELD. */
export function cleanField(s: string, mask: (s: string) => string): string {
  const m = mask(s);
  return m.length > MAX_FIELD ? m.slice(0, MAX_FIELD - 1) + "…" : m;
}

/** An event's fields in line order: strings masked and cut, numbers as they are. */
export function eventFields(ev: AuditEvent, mask: (s: string) => string): EventFields {
  const fields: EventFields = {};
  for (const f of FIELDS) {
    const v = ev[f];
    if (v !== undefined && v !== null) fields[f] = cleanField(String(v), mask);
  }
  for (const f of NUMBERS) {
    const v = ev[f];
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) fields[f] = v;
  }
  return fields;
}
