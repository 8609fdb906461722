/**
 * `MemoryStore`: the broker's in-memory state — KV with TTL, locks with
 * fencing tokens, lease pools — the default `StateBackend` (backend.ts),
 * answering synchronously. Pure: no I/O, no timers, no `Date.now`; time comes from the
 * injected `now()`, and the server drives `sweep()` from its own timer.
 *
 * Every failure is a `HushError` with a stable code (PROTOCOL.md §1) and a
 * message that names the field but never contains a stored value. A call
 * that fails changes nothing visible (invariant 8); at most it removes
 * entries that had already expired.
 *
 * Cost model: get/set/del/incr/ttl, lock and claim calls are O(1) plus the
 * name check (a new or deleted KV key also updates the ordered key set,
 * O(log n)); pool calls are O(log n) in the pool's live leases;
 * `listPage` is O(log n + page), `list` O(matching keys). Expiry is
 * checked lazily on every access. `sweep()` is a full scan, but it returns at
 * once while nothing can have expired yet (the store keeps a lower bound of
 * the earliest expiry), so a full store rejects new items in O(1) until an
 * entry's time is up.
 * @module
 */
import { HushError } from "../errors.ts";
import type { StoreContext } from "./context.ts";
import type { ClaimAnswer, StateBackend, StoreStats } from "./backend.ts";
import { KvTable, type KeyPage, type KvRead, type SetOptions } from "./kv.ts";
import { LimitTally, requireTtl, resolveLimits, validateName, validateTtl, type StoreLimits } from "./limits.ts";
import { LockTable } from "./locks.ts";
import { PoolTable, type LeaseGrant, type LeaseOptions } from "./pools.ts";

export interface StoreOptions {
  /** Current time in Unix milliseconds (fractions are floored). */
  now: () => number;
  limits?: Partial<StoreLimits>;
  /**
   * Tokens start above this value. The daemon passes `Date.now() * 1000`
   * so fencing tokens keep increasing across restarts (a holder of a token
   * from an earlier run never outranks a new holder), assuming fewer than
   * 1000 tokens per millisecond on average and a clock that does not go back.
   */
  tokenBase?: number;
}

export class MemoryStore implements StateBackend {
  readonly kind = "memory";
  readonly limits: StoreLimits;
  private readonly _now: () => number;
  private readonly _kv: KvTable;
  private readonly _locks: LockTable;
  /** Claims on KV keys (getOrSet): a lock table whose names are keys. */
  private readonly _claims: LockTable;
  private readonly _pools: PoolTable;
  /** Last fencing/lease token handed out (store-wide, so never reused). */
  private _lastToken = 0;
  /** Lower bound of the earliest expiry of anything stored; `Infinity` when nothing expires. */
  private _nextExpiry = Infinity;
  /** Refusals by limit (`items`). */
  readonly refusals = new LimitTally();

  constructor(opts: StoreOptions) {
    if (typeof opts?.now !== "function") throw new HushError("invalid_request", "now must be a function");
    this.limits = resolveLimits(opts.limits);
    const clock = opts.now;
    if (opts.tokenBase !== undefined) {
      if (!Number.isSafeInteger(opts.tokenBase) || opts.tokenBase < 0) throw new HushError("invalid_request", "tokenBase must be a safe integer ≥ 0");
      this._lastToken = opts.tokenBase;
    }
    this._now = () => Math.floor(clock());
    const ctx: StoreContext = {
      limits: this.limits,
      now: this._now,
      issueToken: () => {
        if (this._lastToken >= Number.MAX_SAFE_INTEGER) throw new HushError("internal", "token space exhausted");
        return ++this._lastToken;
      },
      reserveItem: (now) => this._reserveItem(now),
      noteExpiry: (e) => {
        if (e < this._nextExpiry) this._nextExpiry = e;
      },
      refuse: (limit, code, message, detail) => this.refusals.refuse(limit, code, message, detail),
    };
    this._kv = new KvTable(ctx);
    this._locks = new LockTable(ctx);
    this._claims = new LockTable(ctx, { name: "key", thing: "claim" });
    this._pools = new PoolTable(ctx);
  }

  // ---- KV -------------------------------------------------------------------

  /** Store `valueJson` (ownership passes to the store, written or not) under `key` (kv.ts `set`). */
  set(key: string, valueJson: Uint8Array, opts: SetOptions = {}): { expires_at: number | null; written: boolean } {
    return this._kv.set(key, valueJson, opts);
  }

  /** The stored bytes (not a copy: splice them before the next mutating call); a sliding key's expiry moves. */
  get(key: string): KvRead {
    return this._kv.get(key);
  }

  /** Remaining TTL (ms; null: no expiry) of a live key; not a read (no slide). */
  ttl(key: string): { ttl_ms: number | null; expires_at: number | null } {
    return this._kv.ttl(key);
  }

  del(key: string): { deleted: boolean } {
    return this._kv.del(key);
  }

  list(prefix: string): string[] {
    return this._kv.list(prefix);
  }

  /** One page of a listing (PROTOCOL.md §8 `GET /v1/kv`); `owner` pays for it from its list budget. */
  listPage(prefix: string, opts: { limit?: number; cursor?: string; owner?: string } = {}): KeyPage {
    return this._kv.listPage(prefix, opts);
  }

  incr(key: string, by: number, ttlMs?: number): { value: number } {
    return this._kv.incr(key, by, ttlMs);
  }

  // ---- claims: getOrSet's creation step (PROTOCOL.md §8 `…/claim`) --------

  /**
   * One step: the live value of `key` (a read, so it slides), or else a
   * claim on `key` for `owner` (token, expiry now + ttlMs) — the caller makes
   * the value, writes it with `set(…, { ifAbsent })` and releases the claim. `conflict`
   * (detail `expiresAt`: the claim's expiry) while another caller holds the
   * claim (claims are not re-entrant, even for the same key id).
   */
  claimKey(key: string, ttlMs: number | undefined, owner?: string): ClaimAnswer {
    const limits = this.limits;
    validateName(key, limits);
    requireTtl(ttlMs, "a claim");
    validateTtl(ttlMs, limits);
    const hit = this._kv.read(key, this._now());
    if (hit) return { state: "value", ...hit };
    return { state: "claimed", ...this._claims.acquire(key, ttlMs, undefined, owner) };
  }

  renewClaim(key: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    return this._claims.renew(key, token, ttlMs, owner);
  }

  releaseClaim(key: string, token: number, owner?: string): { released: boolean } {
    return this._claims.release(key, token, owner);
  }

  // ---- locks (`owner`: the key id that takes, renews or releases) ----------

  acquireLock(name: string, ttlMs: number | undefined, holder?: string, owner?: string): { token: number; expires_at: number } {
    return this._locks.acquire(name, ttlMs, holder, owner);
  }

  renewLock(name: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    return this._locks.renew(name, token, ttlMs, owner);
  }

  releaseLock(name: string, token: number, owner?: string): { released: boolean } {
    return this._locks.release(name, token, owner);
  }

  // ---- pools ----------------------------------------------------------------

  leasePool(name: string, size: number, ttlMs: number | undefined, holder?: string, owner?: string, opts: LeaseOptions = {}): LeaseGrant {
    return this._pools.lease(name, size, ttlMs, holder, owner, opts);
  }

  renewPool(name: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    return this._pools.renew(name, token, ttlMs, owner);
  }

  releasePool(name: string, token: number, owner?: string): { released: boolean } {
    return this._pools.release(name, token, owner);
  }

  /** End every lock, claim and pool lease taken by `owner` (its key ended); the names of the live ones. */
  releaseOwner(owner: string): { locks: string[]; pools: string[]; claims: string[] } {
    return { locks: this._locks.releaseOwner(owner), pools: this._pools.releaseOwner(owner), claims: this._claims.releaseOwner(owner) };
  }

  // ---- housekeeping ---------------------------------------------------------

  /** Wipe and remove everything expired (and forget refilled listing budgets); returns how many entries (KV keys, locks, leases) went. */
  sweep(): number {
    this._kv.pruneListBudget();
    return this._sweepAt(this._now());
  }

  /** Counts of live state (expired entries are swept first). */
  stats(): StoreStats {
    this._sweepAt(this._now());
    const kv = this._kv.size;
    const locks = this._locks.size;
    const claims = this._claims.size;
    const leases = this._pools.leases;
    return { items: kv + locks + claims + leases, kv, locks, claims, pools: this._pools.size, leases, bytes: this._kv.bytes };
  }

  /** Memory is always there. */
  unavailable(): null {
    return null;
  }

  statsNow(): StoreStats {
    return this.stats();
  }

  /** Daemon shutdown: `wipe`. */
  close(): void {
    this.wipe();
  }

  /** Zero-fill every stored buffer and drop everything (daemon shutdown). Tokens are still never reused. */
  wipe(): void {
    this._kv.wipe();
    this._locks.wipe();
    this._claims.wipe();
    this._pools.wipe();
    this._nextExpiry = Infinity;
  }

  private _items(): number {
    return this._kv.size + this._locks.size + this._claims.size + this._pools.leases;
  }

  private _sweepAt(now: number): number {
    if (now < this._nextExpiry) return 0;
    // The tables report every survivor's expiry, rebuilding the exact minimum.
    this._nextExpiry = Infinity;
    return this._kv.sweep(now) + this._locks.sweep(now) + this._claims.sweep(now) + this._pools.sweep(now);
  }

  private _reserveItem(now: number): void {
    if (this._items() < this.limits.maxItems) return;
    this._sweepAt(now);
    if (this._items() >= this.limits.maxItems) {
      this.refusals.refuse("items", "max_items", `store is full (${this.limits.maxItems} items)`);
    }
  }
}
