/**
 * The one table of lifetimes (TTLs): defaults, minimums and maximums of
 * every duration a client can ask for. The broker enforces the maximums
 * (and answers `invalid_ttl`); the CLI checks its flags against the same
 * table before it sends a request, so that a mistake is named by its flag
 * and its units ("--ttl must be at most 24h"), not by the wire field.
 * SECURITY.md ("Secure defaults") and README ("Limits") quote it.
 * @module
 */
import { HushError } from "../errors.ts";

const MIN = 60_000;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

export interface TtlRule {
  /** Used when the request gives no TTL (absent: a TTL is required, or there is no default). */
  defaultMs?: number;
  /** Shortest accepted by the CLI: anything shorter would be spent before it could be used. */
  minMs: number;
  /** Longest accepted (by the daemon, and so by the CLI). */
  maxMs: number;
}

/** Every TTL a client can ask for, in milliseconds. */
export const TTL_LIMITS = {
  /** A KV key, a lock, a pool lease (`--ttl`; required unless `serve --no-ttl-required`, which is for KV only). */
  store: { minMs: 1, maxMs: 30 * DAY },
  /** A credential checkout's lease (`checkout --ttl`). */
  lease: { defaultMs: 15 * MIN, minMs: 1_000, maxMs: DAY },
  /** A worker or admin key (`workers issue --ttl`, `keygen admin --ttl`, `token create --worker-ttl`). */
  key: { defaultMs: DAY, minMs: MIN, maxMs: 30 * DAY },
  /** A join token (`token create --ttl`). */
  token: { defaultMs: HOUR, minMs: MIN, maxMs: 30 * DAY },
} as const satisfies Record<string, TtlRule>;

const UNITS: [string, number][] = [
  ["d", DAY],
  ["h", HOUR],
  ["m", MIN],
  ["s", 1000],
  ["ms", 1],
];

/** Milliseconds as a duration flag value: 86400000 → `24h`, 2592000000 → `30d`, 90000 → `90s`. */
export function formatDuration(ms: number): string {
  for (const [u, n] of UNITS) if (ms % n === 0 && (u !== "d" || ms > DAY)) return `${ms / n}${u}`;
  return `${ms}ms`;
}

/**
 * Check a TTL flag's value (ms) against its rule; throws `invalid_ttl`
 * naming `flag` and the limit as a duration. Returns `ms`.
 */
export function checkTtl(ms: number, rule: TtlRule, flag: string): number {
  if (ms > rule.maxMs) throw new HushError("invalid_ttl", `${flag} must be at most ${formatDuration(rule.maxMs)}`);
  if (ms < rule.minMs) throw new HushError("invalid_ttl", `${flag} must be at least ${formatDuration(rule.minMs)}`);
  return ms;
}
