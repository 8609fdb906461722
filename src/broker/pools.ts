/**
 * Lease pools (PROTOCOL.md §8 `/v1/pools`, ephemeral-broker semantics): a
 * pool of `size` slots 0..size-1, e.g. test-database shards or ports shared
 * by parallel test workers.
 *
 * - A lease gets the smallest free slot, with a fresh token from the
 *   store-wide counter (so tokens are never reused).
 * - The same `holder` of the same key asking again gets its same slot and
 *   token back, with the lease renewed (idempotent: a retried request is
 *   harmless). The same holder string from another key is another lease.
 * - A lease belongs to the key that took it (`owner`, a key id): a release
 *   from another key gets `conflict`; `releaseOwner` frees every slot of a
 *   key whose key has ended (revocation).
 * - Expired leases free their slot; `conflict` when every slot is taken.
 * - A pool's size is fixed by its first lease while it has live leases; a
 *   pool whose leases are all gone is forgotten (and may come back with
 *   another size). It counts as one item towards `maxItems` while it exists.
 * @module
 */
import { HushError } from "../errors.ts";
import type { StoreContext } from "./context.ts";
import {
  requireTtl,
  validateHolder,
  validateName,
  validatePoolSize,
  validateTtl,
  validateToken,
} from "./limits.ts";

class Lease {
  token: number;
  /** Expiry (ms). */
  e: number;
  holder: string | undefined;
  /** Key id that took the lease (undefined only for callers without keys, e.g. unit tests). */
  owner: string | undefined;
  /** Pool name and slot, for `releaseOwner`. */
  pool: string;
  slot: number;
  constructor(token: number, e: number, holder: string | undefined, owner: string | undefined, pool: string, slot: number) {
    this.token = token;
    this.e = e;
    this.holder = holder;
    this.owner = owner;
    this.pool = pool;
    this.slot = slot;
  }
}

class Pool {
  readonly size: number;
  /** Index = slot. Grows only as far as the highest slot in use; trailing holes are trimmed. */
  readonly slots: (Lease | undefined)[] = [];
  /** Stored leases (live, plus expired ones not yet purged). */
  count = 0;
  constructor(size: number) {
    this.size = size;
  }
}

export class PoolTable {
  private readonly _map = new Map<string, Pool>();
  private _leases = 0;
  /** Leases by owner, for `releaseOwner`. */
  private readonly _byOwner = new Map<string, Set<Lease>>();

  constructor(private readonly _ctx: StoreContext) {}

  /** Stored pools (each has at least one stored lease). */
  get size(): number {
    return this._map.size;
  }

  /** Stored leases across all pools. */
  get leases(): number {
    return this._leases;
  }

  lease(
    name: string,
    size: number,
    ttlMs: number | undefined,
    holder?: string,
    owner?: string,
  ): { slot: number; token: number; expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, "pool name");
    validatePoolSize(size, limits);
    requireTtl(ttlMs, "a pool lease");
    validateTtl(ttlMs, limits);
    validateHolder(holder);
    const now = this._ctx.now();
    const e = now + ttlMs;
    let pool = this._map.get(name);
    if (pool) {
      this._purge(name, pool, now);
      if (pool.count === 0) pool = undefined;
    }
    if (pool) {
      if (pool.size !== size) {
        throw new HushError("conflict", `pool has size ${pool.size}`, { size: pool.size });
      }
      const slots = pool.slots;
      if (holder !== undefined) {
        for (let i = 0; i < slots.length; i++) {
          const l = slots[i];
          if (l !== undefined && l.holder === holder && l.owner === owner) {
            l.e = e;
            this._ctx.noteExpiry(e);
            return { slot: i, token: l.token, expires_at: e };
          }
        }
      }
      let slot = 0;
      while (slot < slots.length && slots[slot] !== undefined) slot++;
      if (slot >= pool.size) {
        throw new HushError("conflict", "pool is exhausted", { size: pool.size });
      }
      return this._grant(name, pool, slot, e, holder, owner);
    }
    this._ctx.reserveItem(now);
    pool = new Pool(size);
    this._map.set(name, pool);
    return this._grant(name, pool, 0, e, holder, owner);
  }

  release(name: string, token: number, owner?: string): { released: true } {
    validateName(name, this._ctx.limits, "pool name");
    validateToken(token);
    const now = this._ctx.now();
    const pool = this._map.get(name);
    if (pool) {
      const slots = pool.slots;
      for (let i = 0; i < slots.length; i++) {
        const l = slots[i];
        if (l !== undefined && l.token === token) {
          if (l.e > now && l.owner !== owner) throw new HushError("conflict", "the lease was taken by another key");
          this._free(pool, i);
          if (pool.count === 0) this._map.delete(name);
          if (l.e > now) return { released: true };
          break; // expired: removed, but there was no live lease to release
        }
      }
    }
    throw new HushError("not_found", "no live lease with that token");
  }

  /** Remove every expired lease (and emptied pools); report survivors' expiries to the context. */
  sweep(now: number): number {
    let removed = 0;
    for (const [name, pool] of this._map) {
      removed += this._purge(name, pool, now);
      for (const l of pool.slots) if (l !== undefined) this._ctx.noteExpiry(l.e);
    }
    return removed;
  }

  /** Free every slot leased by `owner`; returns the pool names of the leases that were live. */
  releaseOwner(owner: string): string[] {
    const mine = this._byOwner.get(owner);
    if (!mine) return [];
    const now = this._ctx.now();
    const out: string[] = [];
    for (const l of [...mine]) {
      const pool = this._map.get(l.pool);
      if (pool === undefined || pool.slots[l.slot] !== l) continue;
      if (l.e > now) out.push(l.pool);
      this._free(pool, l.slot);
      if (pool.count === 0) this._map.delete(l.pool);
    }
    this._byOwner.delete(owner);
    return out;
  }

  wipe(): void {
    this._map.clear();
    this._byOwner.clear();
    this._leases = 0;
  }

  private _grant(name: string, pool: Pool, slot: number, e: number, holder: string | undefined, owner: string | undefined) {
    const token = this._ctx.issueToken();
    const lease = new Lease(token, e, holder, owner, name, slot);
    pool.slots[slot] = lease;
    if (owner !== undefined) {
      const mine = this._byOwner.get(owner);
      if (mine) mine.add(lease);
      else this._byOwner.set(owner, new Set([lease]));
    }
    pool.count++;
    this._leases++;
    this._ctx.noteExpiry(e);
    return { slot, token, expires_at: e };
  }

  private _free(pool: Pool, slot: number): void {
    const slots = pool.slots;
    const l = slots[slot];
    if (l?.owner !== undefined) {
      const mine = this._byOwner.get(l.owner);
      if (mine && mine.delete(l) && mine.size === 0) this._byOwner.delete(l.owner);
    }
    slots[slot] = undefined;
    pool.count--;
    this._leases--;
    while (slots.length > 0 && slots[slots.length - 1] === undefined) slots.pop();
  }

  /** Free the slots of expired leases; forget the pool when none are left. Returns how many. */
  private _purge(name: string, pool: Pool, now: number): number {
    let removed = 0;
    const slots = pool.slots;
    for (let i = slots.length - 1; i >= 0; i--) {
      const l = slots[i];
      if (l !== undefined && l.e <= now) {
        this._free(pool, i);
        removed++;
      }
    }
    if (pool.count === 0) this._map.delete(name);
    return removed;
  }
}
