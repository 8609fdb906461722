/**
 * The daemon's metrics (names fixed by the hardening issue). Label values
 * come from a closed vocabulary; no key name or value ever becomes a label.
 * @module
 */
import type { Counter, Histogram } from "../observe/index.ts";
import type { State } from "./state.ts";

export interface ServerMetrics {
  requests: Counter;
  duration: Histogram;
  rejected: Counter;
  authFailures: Counter;
  joins: Counter;
}

const cache = new WeakMap<State, ServerMetrics>();

export function createServerMetrics(st: State): ServerMetrics {
  const hit = cache.get(st);
  if (hit) return hit;
  const r = st.metrics;
  const m: ServerMetrics = {
    requests: r.counter("hush_requests_total", "Requests answered, by route and HTTP status."),
    duration: r.histogram("hush_request_duration_seconds", "Time to answer a request.", [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5]),
    rejected: r.counter("hush_rejected_total", "Requests rejected before routing, by reason."),
    authFailures: r.counter("hush_auth_failures_total", "Failed request authentications, by reason."),
    joins: r.counter("hush_joins_total", "Join handshakes, by result."),
  };
  r.gauge("hush_items", "Items in the store (keys, locks, claims, pool leases).", () => st.store.statsNow().items);
  r.gauge("hush_workers", "Active worker keys.", () => st.registry.count().active);
  r.gauge("hush_tokens", "Usable join tokens.", () => st.tokens.count().active);
  r.gauge("hush_nonce_cache_entries", "Entries in the request replay cache.", () => st.verifier.nonces.size);
  r.gauge("hush_in_flight", "Requests being answered now.", () => st.inFlight);
  r.gauge("hush_creds", "Credentials held.", () => st.creds.size);
  r.gauge("hush_cred_leases", "Live credential leases (shared and exclusive).", () => (st.creds.sweep(), st.creds.leaseCount));
  r.gauge("hush_backend_up", "1 while the state backend can serve (always for memory), 0 while it is unreachable or in its quiet period.", () => (st.store.unavailable() === null ? 1 : 0));
  r.counterView("hush_backend_errors_total", "Calls to the shared state backend that failed, by reason (timeout, connection, epoch, server).", "reason", () => st.cluster?.errors ?? []);
  r.counterView("hush_backend_epochs_total", "Times the shared state backend was found to have lost its state (a new epoch).", "backend", () => (st.cluster ? [["redis", st.cluster.epochs]] : []));
  r.counterView("hush_limit_refusals_total", "Requests refused by a limit on what the daemon holds, by limit.", "limit", () => limitRefusals(st));
  r.counterView("hush_failure_overflow_total", "Unauthenticated failures counted only in an overflow summary record (more sources than a window tells apart), by action.", "action", () => st.failures.overflowed);
  cache.set(st, m);
  return m;
}

/** Refusal counts of every bounded table (label values: the fixed limit names of SECURITY.md "Limits"). */
function* limitRefusals(st: State): Iterable<[string, number]> {
  yield* st.creds.refusals.counts;
  yield* st.registry.refusals.counts;
  yield* st.tokens.refusals.counts;
  yield* st.store.refusals.counts;
  yield* st.verifier.nonces.refusals;
  for (const [k, n] of st.handshakeReplay.refusals) yield ["handshake_" + k, n];
}

const KNOWN = new Set(["kv", "locks", "pools", "whoami", "status", "health", "ready", "admin", "join", "rekey", "creds"]);

const ADMIN_AREAS = new Set(["workers", "stats", "tokens", "creds", "audit", "server-key"]);

/** A fixed-vocabulary route label for metrics. */
export function routeLabel(parts: string[]): string {
  if (parts[1] === "metrics" && parts.length === 2) return "metrics";
  const a = parts[2];
  if (parts[1] !== "v1" || !a || !KNOWN.has(a)) return "unknown";
  if (a === "kv" && (parts[4] === "incr" || parts[4] === "ttl" || parts[4] === "claim")) return `kv_${parts[4]}`;
  if (a === "admin") return ADMIN_AREAS.has(parts[3]) ? `admin_${parts[3]}` : "admin";
  return a;
}
