/**
 * What the KV, lock and pool tables share inside one `MemoryStore`: the
 * injected clock, the limits, the store-wide fencing-token counter, the
 * `maxItems` budget and the earliest-expiry hint that keeps sweeps cheap.
 *
 * Expiry convention everywhere: an entry with expiry `e` is live while
 * `now < e` and expired from `now >= e` on. "No expiry" is `Infinity`.
 * @module
 */
import type { ErrorCode } from "../errors.ts";
import type { StoreLimits } from "./limits.ts";

export interface StoreContext {
  readonly limits: StoreLimits;
  /** Current time in integer Unix milliseconds. */
  now(): number;
  /** Next fencing/lease token: strictly increasing store-wide, never reused. */
  issueToken(): number;
  /** Throw `max_items` unless one more item fits (sweeping first if that could help). */
  reserveItem(now: number): void;
  /** Record that some entry now expires at `expiresAt` (keeps the sweep hint a lower bound). */
  noteExpiry(expiresAt: number): void;
  /** Count a refusal under `limit` in the store's tally and throw `HushError(code, message, detail)`. */
  refuse(limit: string, code: ErrorCode, message: string, detail?: Record<string, unknown>): never;
}

/** `expires_at` as the protocol shows it. */
export function showExpiry(e: number): number | null {
  return e === Infinity ? null : e;
}
