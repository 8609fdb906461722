/**
 * Lease pools (PROTOCOL.md §8 `/v1/pools`, ephemeral-broker semantics): a
 * pool of `size` slots 0..size-1, e.g. test-database shards or ports shared
 * by parallel test workers.
 *
 * - A lease gets the smallest free slot, with a fresh token from the
 *   store-wide counter (so tokens are never reused).
 * - The same `holder` of the same key asking again gets its same slot and
 *   token back, with the lease renewed (idempotent: a retried request is
 *   harmless). The same holder string from another key is another lease —
 *   unless the pool is *one per holder* (`onePerHolder`, fixed by its first
 *   lease like its size): then every lease needs a holder, and a holder
 *   name that another key holds a slot under gets `conflict`.
 * - A lease belongs to the key that took it (`owner`, a key id): a renew or
 *   release from another key gets `conflict`; `releaseOwner` frees every
 *   slot of a key whose key has ended (revocation).
 * - Release is idempotent: a token that holds no live lease of the pool gets
 *   `released: false`.
 * - Expired leases free their slot; `conflict` (detail `expiresAt`: when the
 *   next lease runs out) when every slot is taken.
 * - A pool's size is fixed by its first lease while it has live leases; a
 *   pool whose leases are all gone is forgotten (and may come back with
 *   another size). Every live lease counts as one item towards `maxItems`.
 *
 * Cost: every operation is O(log n) in the pool's live leases, whatever its
 * size (at most `maxPoolSize`): leases sit in maps by slot, token and
 * holder and in an expiry heap; the free slots below the highest one in use
 * sit in a min-heap. Memory is O(live leases), never O(size).
 * @module
 */
import { HushError } from "../errors.ts";
import type { StoreContext } from "./context.ts";
import { IndexedHeap, IntHeap, type HeapItem } from "./heap.ts";
import { requireTtl, validateHolder, validateName, validatePoolSize, validateTtl, validateToken, type StoreLimits } from "./limits.ts";

class Lease implements HeapItem {
  _h = -1;
  token: number;
  /** Expiry (ms). */
  e: number;
  /** TTL of the last lease or renew; a renew without `ttl_ms` reuses it. */
  ttl: number;
  holder: string | undefined;
  /** Key id that took the lease (undefined only for callers without keys, e.g. unit tests). */
  owner: string | undefined;
  pool: Pool;
  slot: number;
  constructor(token: number, e: number, ttl: number, holder: string | undefined, owner: string | undefined, pool: Pool, slot: number) {
    this.token = token;
    this.e = e;
    this.ttl = ttl;
    this.holder = holder;
    this.owner = owner;
    this.pool = pool;
    this.slot = slot;
  }
}

class Pool {
  readonly bySlot = new Map<number, Lease>();
  readonly byToken = new Map<number, Lease>();
  /** Keyed by `holderKey`. */
  readonly byHolder = new Map<string, Lease>();
  readonly expiry = new IndexedHeap<Lease>((l) => l.e);
  /**
   * Free slots below `next`. Every free slot below `next` is in it; it may
   * also hold stale numbers (≥ `next` after it shrank), dropped when they
   * reach the top. A number is in it at most once, and never while its slot
   * is in use: a freed slot is used again only by popping it, and `next`
   * grows only when the heap has run empty.
   */
  readonly free = new IntHeap();
  /** 1 + the highest slot in use (0 when none). */
  next = 0;
  constructor(
    readonly name: string,
    readonly size: number,
    readonly onePerHolder: boolean,
  ) {}

  /** The key of `byHolder`: the holder alone in a one-per-holder pool, else owner and holder. */
  holderKey(holder: string, owner: string | undefined): string {
    return this.onePerHolder ? holder : `${owner ?? ""}\u0000${holder}`;
  }

  /** The smallest free slot, or -1 when all `size` are taken. */
  takeFree(): number {
    const free = this.free;
    while (free.size > 0) {
      const s = free.pop();
      if (s < this.next && !this.bySlot.has(s)) return s;
    }
    return this.next < this.size ? this.next++ : -1;
  }

  /** Put a slot back: shrink `next` past free top slots, or remember a hole. */
  giveBack(slot: number): void {
    if (slot === this.next - 1) {
      this.next--;
      while (this.next > 0 && !this.bySlot.has(this.next - 1)) this.next--;
    } else {
      this.free.push(slot);
    }
  }
}

/** Options of a lease besides name, size, TTL and holder. */
export interface LeaseOptions {
  /** The pool keeps one lease per holder name (fixed by the pool's first lease; absent: whatever the pool has, else false). */
  onePerHolder?: boolean;
}

export type LeaseGrant = { slot: number; token: number; expires_at: number };

/** A lease's input, as every backend checks it before anything changes: `invalid_request`, `ttl_required`, `invalid_ttl`. */
export function checkLease(limits: StoreLimits, name: string, size: number, ttlMs: number | undefined, holder: string | undefined, opts: LeaseOptions): asserts ttlMs is number {
  validateName(name, limits, "pool name");
  validatePoolSize(size, limits);
  requireTtl(ttlMs, "a pool lease");
  validateTtl(ttlMs, limits);
  validateHolder(holder);
  const want = opts.onePerHolder;
  if (want !== undefined && typeof want !== "boolean") throw new HushError("invalid_request", "one_per_holder must be true or false");
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

  /** Stored leases across all pools (live, plus expired ones not yet purged). */
  get leases(): number {
    return this._leases;
  }

  /**
   * Lease a slot (see the module comment). Errors: `conflict` for a full
   * pool or a holder name held by another key in a one-per-holder pool
   * (detail `expiresAt`), another size (detail `size`) or another
   * one-per-holder setting (detail `onePerHolder`); `invalid_request`
   * (bad input, or no holder in a one-per-holder pool), `ttl_required`,
   * `invalid_ttl`, `max_items`.
   */
  lease(name: string, size: number, ttlMs: number | undefined, holder?: string, owner?: string, opts: LeaseOptions = {}): LeaseGrant {
    checkLease(this._ctx.limits, name, size, ttlMs, holder, opts);
    const want = opts.onePerHolder;
    const now = this._ctx.now();
    const e = now + ttlMs;
    let pool = this._map.get(name);
    if (pool) {
      this._purge(pool, now);
      if (pool.bySlot.size === 0) pool = undefined;
    }
    const perHolder = pool ? pool.onePerHolder : want === true;
    if (perHolder && holder === undefined) throw new HushError("invalid_request", "holder is required in a one-per-holder pool");
    if (pool) {
      if (pool.size !== size) throw new HushError("conflict", `pool has size ${pool.size}`, { size: pool.size });
      if (want !== undefined && want !== pool.onePerHolder) {
        throw new HushError("conflict", `pool is ${pool.onePerHolder ? "" : "not "}one-per-holder`, { onePerHolder: pool.onePerHolder });
      }
      const mine = holder === undefined ? undefined : pool.byHolder.get(pool.holderKey(holder, owner));
      if (mine) {
        if (mine.owner !== owner) throw new HushError("conflict", "another key holds a slot under this holder name", { expiresAt: mine.e });
        mine.e = e;
        mine.ttl = ttlMs;
        pool.expiry.update(mine);
        this._ctx.noteExpiry(e);
        return { slot: mine.slot, token: mine.token, expires_at: e };
      }
      const slot = pool.takeFree();
      if (slot < 0) throw new HushError("conflict", "pool is exhausted", { size: pool.size, expiresAt: pool.expiry.peek()!.e });
      try {
        this._ctx.reserveItem(now);
      } catch (err) {
        pool.giveBack(slot);
        throw err;
      }
      return this._grant(pool, slot, e, ttlMs, holder, owner);
    }
    this._ctx.reserveItem(now);
    pool = new Pool(name, size, perHolder);
    this._map.set(name, pool);
    return this._grant(pool, pool.takeFree(), e, ttlMs, holder, owner);
  }

  /** New expiry now + (ttlMs ?? the lease's TTL). `not_found` without a live lease with `token`; `conflict` for another key. */
  renew(name: string, token: number, ttlMs?: number, owner?: string): { expires_at: number } {
    const limits = this._ctx.limits;
    validateName(name, limits, "pool name");
    validateToken(token);
    validateTtl(ttlMs, limits);
    const l = this._liveLease(name, token);
    if (!l) throw new HushError("not_found", "no live lease with that token");
    if (l.owner !== owner) throw new HushError("conflict", "the lease was taken by another key");
    if (ttlMs !== undefined) l.ttl = ttlMs;
    l.e = this._ctx.now() + l.ttl;
    l.pool.expiry.update(l);
    this._ctx.noteExpiry(l.e);
    return { expires_at: l.e };
  }

  /** Free the slot `token` holds: `released: true`; `false` when no live lease of the pool has it; `conflict` for another key. */
  release(name: string, token: number, owner?: string): { released: boolean } {
    validateName(name, this._ctx.limits, "pool name");
    validateToken(token);
    const l = this._liveLease(name, token);
    if (!l) return { released: false };
    if (l.owner !== owner) throw new HushError("conflict", "the lease was taken by another key");
    this._free(l);
    return { released: true };
  }

  /** Remove every expired lease (and emptied pools); report each pool's next expiry to the context. */
  sweep(now: number): number {
    let removed = 0;
    for (const pool of this._map.values()) {
      removed += this._purge(pool, now);
      const next = pool.expiry.peek();
      if (next) this._ctx.noteExpiry(next.e);
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
      if (l.e > now) out.push(l.pool.name);
      this._free(l);
    }
    this._byOwner.delete(owner);
    return out;
  }

  wipe(): void {
    this._map.clear();
    this._byOwner.clear();
    this._leases = 0;
  }

  /** The live lease of pool `name` with `token`; an expired one found is freed on the way. */
  private _liveLease(name: string, token: number): Lease | undefined {
    const pool = this._map.get(name);
    const l = pool?.byToken.get(token);
    if (!l) return undefined;
    if (l.e > this._ctx.now()) return l;
    this._free(l);
    return undefined;
  }

  private _grant(pool: Pool, slot: number, e: number, ttl: number, holder: string | undefined, owner: string | undefined): LeaseGrant {
    const token = this._ctx.issueToken();
    const lease = new Lease(token, e, ttl, holder, owner, pool, slot);
    pool.bySlot.set(slot, lease);
    pool.byToken.set(token, lease);
    if (holder !== undefined) pool.byHolder.set(pool.holderKey(holder, owner), lease);
    pool.expiry.push(lease);
    if (owner !== undefined) {
      const mine = this._byOwner.get(owner);
      if (mine) mine.add(lease);
      else this._byOwner.set(owner, new Set([lease]));
    }
    this._leases++;
    this._ctx.noteExpiry(e);
    return { slot, token, expires_at: e };
  }

  /** Remove a stored lease from every index; forget its pool when it was the last. */
  private _free(l: Lease): void {
    const pool = l.pool;
    if (pool.bySlot.get(l.slot) !== l) return;
    pool.bySlot.delete(l.slot);
    pool.byToken.delete(l.token);
    if (l.holder !== undefined) {
      const k = pool.holderKey(l.holder, l.owner);
      if (pool.byHolder.get(k) === l) pool.byHolder.delete(k);
    }
    pool.expiry.remove(l);
    pool.giveBack(l.slot);
    if (l.owner !== undefined) {
      const mine = this._byOwner.get(l.owner);
      if (mine && mine.delete(l) && mine.size === 0) this._byOwner.delete(l.owner);
    }
    this._leases--;
    if (pool.bySlot.size === 0 && this._map.get(pool.name) === pool) this._map.delete(pool.name);
  }

  /** Free the slots of expired leases, soonest first; returns how many. */
  private _purge(pool: Pool, now: number): number {
    let removed = 0;
    for (let l = pool.expiry.peek(); l !== undefined && l.e <= now; l = pool.expiry.peek()) {
      this._free(l);
      removed++;
    }
    return removed;
  }
}
