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
 *
 * A lock belongs to the key that took it (`owner`, a key id): a renew or
 * release from another key gets `conflict`, whatever token it sends (tokens
 * come from one shared counter, so they are easy to guess). `releaseOwner`
 * ends every lock of a key whose key has ended (revocation).
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
  /** Key id that took the lock (undefined only for callers without keys, e.g. unit tests). */
  owner: string | undefined;
  constructor(token: number, e: number, ttl: number, holder: string | undefined, owner: string | undefined) {
    this.token = token;
    this.e = e;
    this.ttl = ttl;
    this.holder = holder;
    this.owner = owner;
  }
}

export class LockTable {
  private readonly _map = new Map<string, Lock>();
  /** Lock names by owner, for `releaseOwner`. */
  private readonly _byOwner = new Map<string, Set<string>>();

  constructor(private readonly _ctx: StoreContext) {}

  /** Stored locks (held, plus expired ones not yet swept). */
  get size(): number {
    return this._map.size;
  }

  acquire(name: string, ttlMs: number | undefined, holder?: string, owner?: string): { token: number; expires_at: number } {
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
    this._map.set(name, new Lock(token, e, ttlMs, holder, owner));
    if (owner !== undefined) {
      const names = this._byOwner.get(owner);
      if (names) names.add(name);
      else this._byOwner.set(owner, new Set([name]));
    }
    this._ctx.noteExpiry(e);
    return { token, expires_at: e };
  }

  renew(name: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, "lock name");
    validateToken(token);
    validateTtl(ttlMs, limits);
    const now = this._ctx.now();
    const lock = this._held(name, token, now, owner);
    lock.e = now + (ttlMs ?? lock.ttl);
    this._ctx.noteExpiry(lock.e);
    return { expires_at: lock.e };
  }

  release(name: string, token: number, owner?: string): { released: true } {
    validateName(name, this._ctx.limits, "lock name");
    validateToken(token);
    this._delete(name, this._held(name, token, this._ctx.now(), owner));
    return { released: true };
  }

  /** Release every lock taken by `owner`; returns the names of those that were live. */
  releaseOwner(owner: string): string[] {
    const names = this._byOwner.get(owner);
    if (!names) return [];
    const now = this._ctx.now();
    const out: string[] = [];
    for (const name of [...names]) {
      const lock = this._map.get(name);
      if (lock === undefined || lock.owner !== owner) continue;
      if (lock.e > now) out.push(name);
      this._delete(name, lock);
    }
    this._byOwner.delete(owner);
    return out;
  }

  /** Remove every expired lock; report survivors' expiries to the context. */
  sweep(now: number): number {
    let removed = 0;
    for (const [name, lock] of this._map) {
      if (lock.e <= now) {
        this._delete(name, lock);
        removed++;
      } else {
        this._ctx.noteExpiry(lock.e);
      }
    }
    return removed;
  }

  wipe(): void {
    this._map.clear();
    this._byOwner.clear();
  }

  /**
   * The live lock held by `owner` with `token`: `not_found` if none is live,
   * `conflict` if another key took it or another token holds it.
   */
  private _held(name: string, token: number, now: number, owner: string | undefined): Lock {
    const lock = this._live(name, now);
    if (!lock) throw new HushError("not_found", "lock is not held");
    if (lock.owner !== owner) throw new HushError("conflict", "the lock was taken by another key");
    if (lock.token !== token) throw new HushError("conflict", "token does not hold the lock");
    return lock;
  }

  private _delete(name: string, lock: Lock): void {
    this._map.delete(name);
    if (lock.owner === undefined) return;
    const names = this._byOwner.get(lock.owner);
    if (names && names.delete(name) && names.size === 0) this._byOwner.delete(lock.owner);
  }

  private _live(name: string, now: number): Lock | undefined {
    const lock = this._map.get(name);
    if (lock === undefined) return undefined;
    if (lock.e <= now) {
      this._delete(name, lock);
      return undefined;
    }
    return lock;
  }
}
