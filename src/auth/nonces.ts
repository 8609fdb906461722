/**
 * Bounded replay cache for request nonces (PROTOCOL.md §3).
 *
 * Invariant: a nonce is remembered at least until its timestamp leaves the
 * acceptance window, so a replay inside the window is always refused. When
 * the cache is full of still-live entries, `remember` reports "full" and the
 * caller answers `busy` — it never accepts a request it could not record.
 *
 * Expiry order is kept in a FIFO beside the Map (entries arrive roughly in
 * expiry order), so purging pops from the queue's head in O(1) per entry and
 * never iterates the Map: iterating a JS Map from the front after many
 * deletions walks every deleted slot again (JSC), which made each request
 * cost O(entries deleted since the last rehash) once entries began to expire.
 * @module
 */

export type RememberResult = "ok" | "replay" | "full";

export class NonceCache {
  private readonly seen = new Map<string, number>();
  /** FIFO of (key, expiry) in insertion order; `head` is the next to look at. */
  private qKeys: (string | undefined)[] = [];
  private qExp: number[] = [];
  private head = 0;
  private lastScan = -Infinity;

  constructor(
    readonly max: number,
    private readonly windowMs: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Record `keyId`+`nonce` (timestamp `ts`); refuse if already seen. */
  remember(keyId: string, nonce: string, ts: number, now: number): RememberResult {
    const k = keyId + nonce;
    const exp = this.seen.get(k);
    if (exp !== undefined && exp >= now) return "replay";
    this.purgeFront(now, 64);
    if (this.seen.size >= this.max) {
      this.purgeAll(now);
      if (this.seen.size >= this.max) return "full";
    }
    const e = ts + this.windowMs;
    this.seen.set(k, e);
    this.qKeys.push(k);
    this.qExp.push(e);
    return "ok";
  }

  /** Pop expired entries from the head of the FIFO, at most `limit`. */
  private purgeFront(now: number, limit: number): void {
    let n = 0;
    while (this.head < this.qExp.length && n < limit) {
      const e = this.qExp[this.head];
      if (e >= now) break;
      const k = this.qKeys[this.head]!;
      // A key seen again after it expired has a newer expiry: keep that one.
      if (this.seen.get(k) === e) this.seen.delete(k);
      this.qKeys[this.head] = undefined;
      this.head++;
      n++;
    }
    if (this.head > 4096 && this.head * 2 > this.qExp.length) {
      this.qKeys = this.qKeys.slice(this.head);
      this.qExp = this.qExp.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Drop expired entries: the FIFO's expired head, and (when the cache is
   * full) every expired entry — a full scan at most once a second, so a full
   * cache answers "full" at once instead of scanning on every request.
   */
  purgeAll(now: number): void {
    this.purgeFront(now, Infinity);
    if (this.seen.size >= this.max && now - this.lastScan >= 1000) {
      // Rare: out-of-order expiries (future timestamps) hold the head; scan the Map.
      this.lastScan = now;
      for (const [k, exp] of this.seen) if (exp < now) this.seen.delete(k);
    }
  }

  clear(): void {
    this.seen.clear();
    this.qKeys = [];
    this.qExp = [];
    this.head = 0;
  }
}
