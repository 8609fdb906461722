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
 *
 * Release is idempotent: a token that holds nothing (released already,
 * expired, never issued) gets `released: false`, not an error. Renew of a
 * lock that is not held is an error (`not_found`/`conflict`): the caller
 * has lost the lock and must know.
 *
 * The same table serves KV *claims* (kv.ts getOrSet): a second instance
 * whose names are KV keys; `words` names the thing in errors.
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

/** How errors name what the table holds. */
export interface LockWords {
  /** The name field: "lock name", "key". */
  name: string;
  /** The thing: "lock", "claim". */
  thing: string;
}

const LOCK_WORDS: LockWords = { name: "lock name", thing: "lock" };

export class LockTable {
  private readonly _map = new Map<string, Lock>();
  /** Lock names by owner, for `releaseOwner`. */
  private readonly _byOwner = new Map<string, Set<string>>();

  constructor(
    private readonly _ctx: StoreContext,
    private readonly _words: LockWords = LOCK_WORDS,
  ) {}

  /** Stored locks (held, plus expired ones not yet swept). */
  get size(): number {
    return this._map.size;
  }

  /**
   * Take a free lock: a fresh token, expiry now + ttlMs. Errors:
   * `conflict` (detail `expiresAt`: the holder's expiry) while it is held,
   * by anyone (not re-entrant); `ttl_required`, `invalid_ttl`,
   * `invalid_request`, `max_items`.
   */
  acquire(name: string, ttlMs: number | undefined, holder?: string, owner?: string): { token: number; expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, this._words.name);
    requireTtl(ttlMs, `a ${this._words.thing}`);
    validateTtl(ttlMs, limits);
    validateHolder(holder);
    const now = this._ctx.now();
    const lock = this._live(name, now);
    if (lock) throw new HushError("conflict", `${this._words.thing} is held`, { expiresAt: lock.e });
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

  /** New expiry now + (ttlMs ?? the acquire TTL). `not_found` when not held; `conflict` for another key or token. */
  renew(name: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, this._words.name);
    validateToken(token);
    validateTtl(ttlMs, limits);
    const now = this._ctx.now();
    const lock = this._held(name, token, now, owner);
    lock.e = now + (ttlMs ?? lock.ttl);
    this._ctx.noteExpiry(lock.e);
    return { expires_at: lock.e };
  }

  /**
   * End the lock `token` holds: `released: true`; `released: false` when
   * `token` holds no live lock of this name (idempotent). `conflict` when it
   * does but another key took it.
   */
  release(name: string, token: number, owner?: string): { released: boolean } {
    validateName(name, this._ctx.limits, this._words.name);
    validateToken(token);
    const lock = this._live(name, this._ctx.now());
    if (!lock || lock.token !== token) return { released: false };
    if (lock.owner !== owner) throw new HushError("conflict", `the ${this._words.thing} was taken by another key`);
    this._delete(name, lock);
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
    const thing = this._words.thing;
    if (!lock) throw new HushError("not_found", `${thing} is not held`);
    if (lock.owner !== owner) throw new HushError("conflict", `the ${thing} was taken by another key`);
    if (lock.token !== token) throw new HushError("conflict", `token does not hold the ${thing}`);
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
