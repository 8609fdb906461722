/**
 * The state-backend contract (docs/CLUSTER.md): what the server needs from
 * whatever holds the coordination state — KV with TTL, counters, claims,
 * locks with fencing tokens, lease pools — and the request replay cache. The in-memory
 * `MemoryStore` and `NonceCache` implement it, and so does the Redis backend
 * (src/cluster), which several daemons share.
 *
 * Every method returns `Awaitable<T>`: the in-memory backend answers
 * synchronously (its hot path allocates no promise), a shared one with a
 * promise. Callers chain with `after`, which stays synchronous for a plain
 * value. Errors are `HushError`s with the codes of PROTOCOL.md §1, thrown
 * synchronously or as a rejection; a shared backend that cannot answer
 * (unreachable, too slow, state lost) throws `unavailable`.
 *
 * One contract test suite (test/cluster/contract.test.ts) runs against
 * every implementation.
 * @module
 */
import type { KeyPage, KvRead, SetOptions } from "./kv.ts";
import type { LeaseGrant, LeaseOptions } from "./pools.ts";
export type { RememberResult, ReplayCache } from "../auth/nonces.ts";
import type { LimitTally, StoreLimits } from "./limits.ts";

/** A value, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/**
 * `f(v)` now when `v` is a plain value, else once it resolves. A throw from
 * `f` (or a rejection of `v`) propagates the same way: thrown or rejected.
 */
export function after<T, R>(v: Awaitable<T>, f: (t: T) => R): R | Promise<R> {
  return v instanceof Promise ? (v.then(f) as Promise<R>) : f(v);
}

export interface StoreStats {
  /** kv + locks + claims + leases: what counts towards `maxItems`. */
  items: number;
  kv: number;
  locks: number;
  /** KV keys being created by a getOrSet caller (`claimKey`). */
  claims: number;
  pools: number;
  leases: number;
  /** Bytes of stored KV values; null where the backend does not track them (Redis). */
  bytes: number | null;
}

/** `claimKey`'s answer: the live value (a read: it slides), or a claim the caller now holds. */
export type ClaimAnswer = ({ state: "value" } & KvRead) | { state: "claimed"; token: number; expires_at: number };

/**
 * The coordination state: KV and counters, claims, locks, pools (PROTOCOL.md
 * §8 worker routes). Every method is one atomic step; PROTOCOL.md §8 gives
 * each one's semantics.
 */
export interface StateBackend {
  /** `memory` (this process only) or `redis` (shared by every daemon on it). */
  readonly kind: "memory" | "redis";
  readonly limits: StoreLimits;
  /** Refusals by limit (`items`, `list_rate`), counted by this daemon. */
  readonly refusals: LimitTally;

  /**
   * Store `valueJson` under `key` (`opts`: ttlMs, ifAbsent, slide; kv.ts
   * `set`). Ownership of the buffer passes to the backend: it is zero-filled
   * once no longer needed, whether the call succeeds, writes nothing
   * (`ifAbsent` on a live key: `written: false`) or fails. Errors:
   * `invalid_request`, `too_large`, `ttl_required`, `max_items`.
   */
  set(key: string, valueJson: Uint8Array, opts?: SetOptions): Awaitable<{ expires_at: number | null; written: boolean }>;
  /** The stored JSON bytes: splice them into the answer before the next call (the in-memory backend hands out its own buffer). A sliding key's expiry moves. `not_found`. */
  get(key: string): Awaitable<KvRead>;
  /** Remaining TTL (ms; null: no expiry) of a live key; not a read (no slide). `not_found`. */
  ttl(key: string): Awaitable<{ ttl_ms: number | null; expires_at: number | null }>;
  del(key: string): Awaitable<{ deleted: boolean }>;
  /** One page of live keys under `prefix` (PROTOCOL.md §8 `GET /v1/kv`); `owner` pays from its listing budget. */
  listPage(prefix: string, opts?: { limit?: number; cursor?: string; owner?: string }): Awaitable<KeyPage>;
  incr(key: string, by: number, ttlMs?: number): Awaitable<{ value: number }>;

  /** getOrSet's creation step: the live value (a read), or a claim on `key` for `owner`; `conflict` (expires_at) while another holds it. */
  claimKey(key: string, ttlMs: number | undefined, owner?: string): Awaitable<ClaimAnswer>;
  renewClaim(key: string, token: number, ttlMs?: number, owner?: string): Awaitable<{ expires_at: number }>;
  releaseClaim(key: string, token: number, owner?: string): Awaitable<{ released: boolean }>;

  /** `owner`: the key id that takes, renews or releases (PROTOCOL.md §8 locks). */
  acquireLock(name: string, ttlMs: number | undefined, holder?: string, owner?: string): Awaitable<{ token: number; expires_at: number }>;
  renewLock(name: string, token: number, ttlMs?: number, owner?: string): Awaitable<{ expires_at: number }>;
  /** Idempotent: `released: false` when the token holds nothing; `conflict` only for another key's live hold. */
  releaseLock(name: string, token: number, owner?: string): Awaitable<{ released: boolean }>;

  leasePool(name: string, size: number, ttlMs: number | undefined, holder?: string, owner?: string, opts?: LeaseOptions): Awaitable<LeaseGrant>;
  renewPool(name: string, token: number, ttlMs?: number, owner?: string): Awaitable<{ expires_at: number }>;
  releasePool(name: string, token: number, owner?: string): Awaitable<{ released: boolean }>;

  /** End every lock, claim and pool lease taken by `owner` (its key ended); the names of the live ones. */
  releaseOwner(owner: string): Awaitable<{ locks: string[]; pools: string[]; claims: string[] }>;

  /** Housekeeping, from the daemon's sweeper: how many entries went. */
  sweep(): Awaitable<number>;
  /** Live counts (the shared backend counts the whole cluster). */
  stats(): Awaitable<StoreStats>;
  /** Why this backend cannot serve now (a shared one: unreachable, or in its quiet period), or null. `/v1/ready` says it. */
  unavailable(): string | null;
  /** Counts without waiting: live in memory, as of the last `stats()` or `sweep()` for a shared backend (metrics gauges). */
  statsNow(): StoreStats;
  /**
   * Daemon shutdown: drop what this process holds. The in-memory backend
   * zero-fills and drops everything; a shared backend leaves the shared
   * state to the other daemons and closes its connection.
   */
  close(): Awaitable<void>;
}
