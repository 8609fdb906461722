/**
 * Bounded replay cache for request nonces (PROTOCOL.md §3).
 *
 * Invariant: a nonce is remembered at least until its timestamp leaves the
 * acceptance window, so a replay inside the window is always refused. When
 * the cache is full of still-live entries, `remember` reports "full" and the
 * caller answers `busy` — it never accepts a request it could not record.
 *
 * Shares: each owner (a key id) may hold at most `perKey` live entries. A
 * key past its share gets "full" for itself only, so one key's flood cannot
 * fill the cache and turn every other key away; the whole-cache bound still
 * applies to many keys together. `refusals` counts both kinds.
 *
 * Expiry order is kept in a FIFO beside the Map (entries arrive roughly in
 * expiry order), so purging pops from the queue's head in O(1) per entry and
 * never iterates the Map: iterating a JS Map from the front after many
 * deletions walks every deleted slot again (JSC), which made each request
 * cost O(entries deleted since the last rehash) once entries began to expire.
 * @module
 */

/** Outcome of recording a request nonce (PROTOCOL.md §3 step 7). */
export type RememberResult = "ok" | "replay" | "full";

/**
 * The request replay cache (PROTOCOL.md §3), as the verifier uses it: a
 * nonce is remembered at least until its timestamp leaves the acceptance
 * window, so a replay inside the window is refused — by every daemon, when
 * the cache is shared (src/cluster, docs/CLUSTER.md §5). `NonceCache` is the
 * in-memory one and answers synchronously.
 */
export interface ReplayCache {
  /** Record `keyId`+`nonce` (timestamp `ts`, ms); `replay` if seen, `full` if there is no room. A shared cache that cannot answer throws (or rejects with) `unavailable`. */
  remember(keyId: string, nonce: string, ts: number, now: number): RememberResult | Promise<RememberResult>;
  /** Entries held in this process (0 for a shared cache, whose entries live elsewhere). */
  readonly size: number;
  /** Refusals: `replay_cache` (all full), `replay_cache_per_key` (a key's share). */
  readonly refusals: Map<string, number>;
  /** Drop expired entries held in this process. */
  purgeAll(now: number): void;
  /** Forget what this process holds (shutdown). */
  clear(): void;
}

/** Live entries of one owner. Queue slots point at it, so the owner string is held once. */
interface Owner {
  id: string;
  n: number;
}

export class NonceCache implements ReplayCache {
  private readonly seen = new Map<string, number>();
  private readonly owners = new Map<string, Owner>();
  /** FIFO of (key, expiry, owner) in insertion order; `head` is the next to look at. */
  private qKeys: (string | undefined)[] = [];
  private qExp: number[] = [];
  private qOwner: Owner[] = [];
  private head = 0;
  private lastScan = -Infinity;
  /** Refusals: `replay_cache` (the whole cache was full), `replay_cache_per_key` (a key's share was). */
  readonly refusals = new Map<string, number>();

  /**
   * @param max      most live entries in all
   * @param windowMs the acceptance window (an entry lives until its ts + windowMs)
   * @param perKey   most live entries of one owner (default: `max`, no share)
   */
  constructor(
    readonly max: number,
    private readonly windowMs: number,
    readonly perKey: number = max,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Record `keyId`+`nonce` (timestamp `ts`); refuse if already seen, or if there is no room for it. */
  remember(keyId: string, nonce: string, ts: number, now: number): RememberResult {
    const k = keyId + nonce;
    const exp = this.seen.get(k);
    if (exp !== undefined && exp >= now) return "replay";
    this.purgeFront(now, 64);
    // A nonce seen before but expired and not yet purged is replaced in place: no new entry.
    if (!this.seen.has(k)) {
      if (this.heldBy(keyId) >= this.perKey) {
        this.scan(now);
        if (this.heldBy(keyId) >= this.perKey) return this.refuse("replay_cache_per_key");
      }
      if (this.seen.size >= this.max) {
        this.purgeAll(now);
        if (this.seen.size >= this.max) return this.refuse("replay_cache");
      }
      let o = this.owners.get(keyId);
      if (o === undefined) this.owners.set(keyId, (o = { id: keyId, n: 0 }));
      o.n++;
    }
    const e = ts + this.windowMs;
    this.seen.set(k, e);
    this.qKeys.push(k);
    this.qExp.push(e);
    this.qOwner.push(this.owners.get(keyId)!);
    return "ok";
  }

  /** Live entries of one owner (0 when none). */
  heldBy(keyId: string): number {
    return this.owners.get(keyId)?.n ?? 0;
  }

  /** Pop expired entries from the head of the FIFO, at most `limit`. */
  private purgeFront(now: number, limit: number): void {
    let n = 0;
    while (this.head < this.qExp.length && n < limit) {
      const e = this.qExp[this.head]!;
      const k = this.qKeys[this.head];
      if (k !== undefined) {
        if (e >= now) break;
        this.drop(this.head, k, e);
        n++;
      }
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.qExp.length) {
      this.qKeys = this.qKeys.slice(this.head);
      this.qExp = this.qExp.slice(this.head);
      this.qOwner = this.qOwner.slice(this.head);
      this.head = 0;
    }
  }

  /** Forget queue slot `i` (key `k`, expiry `e`), and its entry unless a newer one replaced it. */
  private drop(i: number, k: string, e: number): void {
    // A key seen again after it expired has a newer expiry: keep that one.
    if (this.seen.get(k) === e) {
      this.seen.delete(k);
      const o = this.qOwner[i]!;
      if (--o.n === 0) this.owners.delete(o.id);
    }
    this.qKeys[i] = undefined;
  }

  /**
   * Drop expired entries: the FIFO's expired head, and (when the cache is
   * full) every expired entry — a full scan at most once a second, so a full
   * cache answers "full" at once instead of scanning on every request.
   */
  purgeAll(now: number): void {
    this.purgeFront(now, Infinity);
    if (this.seen.size >= this.max) this.scan(now);
  }

  /** Rare: out-of-order expiries (future timestamps) hold the head; drop every expired entry, at most once a second. */
  private scan(now: number): void {
    if (now - this.lastScan < 1000) return;
    this.lastScan = now;
    for (let i = this.head; i < this.qKeys.length; i++) {
      const k = this.qKeys[i];
      const e = this.qExp[i]!;
      if (k !== undefined && e < now) this.drop(i, k, e);
    }
  }

  private refuse(limit: string): "full" {
    this.refusals.set(limit, (this.refusals.get(limit) ?? 0) + 1);
    return "full";
  }

  clear(): void {
    this.seen.clear();
    this.owners.clear();
    this.qKeys = [];
    this.qExp = [];
    this.qOwner = [];
    this.head = 0;
  }
}
