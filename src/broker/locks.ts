/**
 * Exclusive locks with fencing tokens (PROTOCOL.md §8 `/v1/locks`).
 *
 * A lock is held by exactly one token until it is released or its TTL runs
 * out; it is not re-entrant (the same holder acquiring again gets
 * `conflict`). Tokens come from the store-wide counter, so the tokens handed
 * out for one name are strictly increasing and never reused — even after a
 * release, an expiry or a sweep — without remembering anything per name.
 * A resource guarded by the lock rejects writes whose token is lower than
 * the highest it has seen (Kleppmann's fencing).
 * @module
 */
import { HushError } from "../errors.ts";
import type { StoreContext } from "./context.ts";
import { requireTtl, validateHolder, validateName, validateTtl, validateToken } from "./limits.ts";

class Lock {
  token: number;
  /** Expiry (ms). */
  e: number;
  /** TTL given at acquire; a renew without `ttl_ms` reuses it. */
  ttl: number;
  holder: string | undefined;
  constructor(token: number, e: number, ttl: number, holder: string | undefined) {
    this.token = token;
    this.e = e;
    this.ttl = ttl;
    this.holder = holder;
  }
}

export class LockTable {
  private readonly _map = new Map<string, Lock>();

  constructor(private readonly _ctx: StoreContext) {}

  /** Stored locks (held, plus expired ones not yet swept). */
  get size(): number {
    return this._map.size;
  }

  acquire(name: string, ttlMs: number | undefined, holder?: string): { token: number; expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, "lock name");
    requireTtl(ttlMs, "a lock");
    validateTtl(ttlMs, limits);
    validateHolder(holder);
    const now = this._ctx.now();
    const lock = this._live(name, now);
    if (lock) {
      throw new HushError("conflict", "lock is held", { expires_at: lock.e });
    }
    this._ctx.reserveItem(now);
    const token = this._ctx.issueToken();
    const e = now + ttlMs;
    this._map.set(name, new Lock(token, e, ttlMs, holder));
    this._ctx.noteExpiry(e);
    return { token, expires_at: e };
  }

  renew(name: string, token: number, ttlMs?: number): { expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, "lock name");
    validateToken(token);
    validateTtl(ttlMs, limits);
    const now = this._ctx.now();
    const lock = this._held(name, token, now);
    lock.e = now + (ttlMs ?? lock.ttl);
    this._ctx.noteExpiry(lock.e);
    return { expires_at: lock.e };
  }

  release(name: string, token: number): { released: true } {
    validateName(name, this._ctx.limits, "lock name");
    validateToken(token);
    this._held(name, token, this._ctx.now());
    this._map.delete(name);
    return { released: true };
  }

  /** Remove every expired lock; report survivors' expiries to the context. */
  sweep(now: number): number {
    let removed = 0;
    for (const [name, lock] of this._map) {
      if (lock.e <= now) {
        this._map.delete(name);
        removed++;
      } else {
        this._ctx.noteExpiry(lock.e);
      }
    }
    return removed;
  }

  wipe(): void {
    this._map.clear();
  }

  /** The live lock held by `token`: `not_found` if none is live, `conflict` if another token holds it. */
  private _held(name: string, token: number, now: number): Lock {
    const lock = this._live(name, now);
    if (!lock) throw new HushError("not_found", "lock is not held");
    if (lock.token !== token) throw new HushError("conflict", "token does not hold the lock");
    return lock;
  }

  private _live(name: string, now: number): Lock | undefined {
    const lock = this._map.get(name);
    if (lock === undefined) return undefined;
    if (lock.e <= now) {
      this._map.delete(name);
      return undefined;
    }
    return lock;
  }
}
