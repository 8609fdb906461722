/**
 * Bounded replay cache for request nonces (PROTOCOL.md §3).
 *
 * Invariant: a nonce is remembered at least until its timestamp leaves the
 * acceptance window, so a replay inside the window is always refused. When
 * the cache is full of still-live entries, `remember` reports "full" and the
 * caller answers `busy` — it never accepts a request it could not record.
 * @module
 */

export type RememberResult = "ok" | "replay" | "full";

export class NonceCache {
  // Insertion-ordered: entries arrive roughly in expiry order, so purging from
  // the front is cheap; a full scan runs only when the cache is full.
  private readonly seen = new Map<string, number>();

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
    this.purgeFront(now);
    if (this.seen.size >= this.max) {
      this.purgeAll(now);
      if (this.seen.size >= this.max) return "full";
    }
    this.seen.set(k, ts + this.windowMs);
    return "ok";
  }

  private purgeFront(now: number): void {
    let n = 0;
    for (const [k, exp] of this.seen) {
      if (exp >= now || ++n > 64) break;
      this.seen.delete(k);
    }
  }

  /** Drop every expired entry. */
  purgeAll(now: number): void {
    for (const [k, exp] of this.seen) if (exp < now) this.seen.delete(k);
  }

  clear(): void {
    this.seen.clear();
  }
}
