/**
 * `GET /v1/status` (PROTOCOL.md §8, "Status"): how the daemon is doing,
 * for any signed key (worker or admin) and on admin.sock. Figures only:
 * uptime, memory, what the store holds against its limits, requests in
 * flight against their cap, and whether the daemon is draining or
 * degraded. Never a key, a name or a value, so workers may see it; the
 * per-key and per-table details stay in the admin-only stats.
 * @module
 */
import { type Answer, ok } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import type { State } from "./state.ts";

/** The answer of `GET /v1/status` (snake_case on the wire). */
export interface StatusBody {
  /** `ok`; `degraded` while the audit file cannot be written (checkouts and admin changes are refused); `draining` once stopping. */
  status: "ok" | "degraded" | "draining";
  version: string;
  uptime_ms: number;
  draining: boolean;
  degraded: boolean;
  /** `ok`, `failing` (cannot write: fail closed, PROTOCOL.md §9.7) or `off` (no --audit-file). */
  audit: "ok" | "failing" | "off";
  /** Resident set size and JS heap in use, bytes. */
  memory: { rss_bytes: number; heap_used_bytes: number };
  /** Items (keys, locks, claims, pool leases) against --max-items. */
  items: { used: number; limit: number };
  /** Bytes of KV values against the most the store can hold (--max-items × --max-value; there is no separate byte cap); `used` is null with a shared backend (Redis does not count them). */
  bytes: { used: number | null; limit: number };
  /** Requests being answered (this one included) against the in-flight cap. */
  in_flight: { used: number; limit: number };
}

/** The status figures of `st` now. */
export function collectStatus(st: State): StatusBody {
  // Without waiting: live in memory; a shared backend's counts as of its last sweep (every second).
  const s = st.store.statsNow();
  const l = st.config.limits;
  const draining = st.phase === "draining";
  const audit = !st.auditLog ? "off" : st.audit.healthy ? "ok" : "failing";
  const degraded = audit === "failing";
  const mem = process.memoryUsage();
  return {
    status: draining ? "draining" : degraded ? "degraded" : "ok",
    version: st.version,
    uptime_ms: Date.now() - st.startedAt,
    draining,
    degraded,
    audit,
    memory: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
    items: { used: s.items, limit: l.maxItems },
    bytes: { used: s.bytes, limit: l.maxItems * l.maxValueBytes },
    in_flight: { used: st.inFlight, limit: st.config.maxInFlight },
  };
}

/** `GET /v1/status` */
export function status(c: Ctx): Answer {
  return ok(collectStatus(c.st));
}
