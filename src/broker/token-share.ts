/**
 * `SharedTokenRegistry`: join tokens shared by every daemon of a cluster
 * (docs/CLUSTER.md §10), in front of a `TokenMirror` (src/cluster/tokens.ts).
 *
 * - A token made or revoked on one daemon is written to the backend before
 *   the change is answered (`flush`).
 * - A join reads the token from the backend (`lookup`: its use count and
 *   revocation may have changed on another daemon), and takes its use there
 *   with one script (`reserve`) before the worker's key is made; a join
 *   that is then taken back (its audit record could not be written) gives
 *   the use back (`refund`). So a token with one use joins once in the whole
 *   cluster, however many daemons the attempts are spread over.
 * - The backend deletes a token's sealed PSK when it is revoked or its last
 *   use is taken, and refuses a record without it (`EndedToken`): its
 *   clear counts are not trusted to keep it ended. The daemon that took the
 *   last use holds a copy of the PSK until the join is kept (`spend`) or
 *   given back (`refund`, which stores it again).
 * @module
 */
import { HushError } from "../errors.ts";
import { wipe } from "./_deps.ts";
import { TokenRegistry, type TokenRecord, type TokenRefusal } from "./tokens.ts";

/** A stored token whose sealed PSK is gone: revoked or used up, and refused whatever its clear fields say. */
export interface EndedToken {
  id: string;
  ended: TokenRefusal;
  /** The clear counts, for listings only: uses so far, and when it was revoked or used up (ms; null when the field is 0). */
  uses: number;
  at: number | null;
}

/** Where join tokens are shared. Every method rejects `unavailable` when the backend cannot answer. */
export interface TokenMirror {
  /** Store a new token (PSK sealed). */
  put(t: TokenRecord): Promise<void>;
  /** The token as stored now (with its use count and revocation), ended (no sealed PSK), or null. */
  get(id: string): Promise<TokenRecord | EndedToken | null>;
  all(): Promise<(TokenRecord | EndedToken)[]>;
  /** Take one use: the counts after it, or why the token cannot be used. Taking the last use deletes the stored PSK. */
  spend(id: string): Promise<{ usesLeft: number | null; uses: number; exhaustedAt: number | null } | TokenRefusal>;
  /** Give back a use taken by `spend`; `psk` (the last use was taken by this daemon) is stored again. */
  refund(t: TokenRecord, psk: Uint8Array | null): Promise<void>;
  /** Revoke it and delete the stored PSK. */
  revoke(id: string, at: number): Promise<void>;
}

export class SharedTokenRegistry extends TokenRegistry {
  private readonly _writes = new Set<Promise<void>>();
  /** Token id → a copy of its PSK, held from taking the last use until the join is kept or given back. */
  private readonly _held = new Map<string, Uint8Array>();

  constructor(
    private readonly _mirror: TokenMirror,
    now: () => number,
    limits: { maxTokens?: number } = {},
  ) {
    super(now, limits);
  }

  override create(s: Parameters<TokenRegistry["create"]>[0], serverKeyId: string): TokenRecord {
    const t = super.create(s, serverKeyId);
    this._track(this._mirror.put(t));
    return t;
  }

  override revoke(id: string): TokenRecord {
    const t = super.revoke(id);
    this._track(this._mirror.revoke(id, t.revokedAt!));
    return t;
  }

  /** A token made here and never shown: revoked in the backend (another daemon may have read it). */
  override discard(id: string): void {
    if (this.get(id)) this._track(this._mirror.revoke(id, this.now()));
    super.discard(id);
  }

  override lookup(id: string): Promise<TokenRecord | TokenRefusal> {
    return this.fetch(id).then(() => this.check(id));
  }

  override fetch(id: string): Promise<TokenRecord | undefined> {
    return this._mirror.get(id).then((t) => (t ? this._merge(t) : this.get(id)));
  }

  override async reserve(t: TokenRecord): Promise<TokenRefusal | null> {
    // Copied before the round trip: a concurrent lookup may wipe the cached PSK once the backend says the token ended.
    const psk = t.psk.slice();
    const r = await this._mirror.spend(t.id);
    if (typeof r === "string" || r.usesLeft !== 0 || psk.every((b) => b === 0)) wipe(psk);
    else {
      wipe(this._held.get(t.id) ?? new Uint8Array());
      this._held.set(t.id, psk);
    }
    if (typeof r === "string") return r;
    t.usesLeft = r.usesLeft;
    t.uses = r.uses;
    return null;
  }

  override async refund(t: TokenRecord): Promise<void> {
    const psk = this._held.get(t.id) ?? null;
    this._held.delete(t.id);
    if (t.usesLeft !== null) t.usesLeft++;
    t.uses--;
    t.exhaustedAt = null;
    try {
      if (psk && t.revokedAt === null) t.psk.set(psk);
      await this._mirror.refund(t, t.revokedAt === null ? psk : null);
    } finally {
      if (psk) wipe(psk);
    }
  }

  /** The use was taken by `reserve`: only the PSK of a used-up token (and the copy held for a refund) is wiped here. */
  override spend(t: TokenRecord): void {
    wipe(this._held.get(t.id) ?? new Uint8Array());
    this._held.delete(t.id);
    if (t.usesLeft === 0) {
      wipe(t.psk);
      t.exhaustedAt = this.now();
    }
  }

  override flush(): Promise<void> | undefined {
    if (this._writes.size === 0) return undefined;
    return Promise.all([...this._writes]).then(() => {});
  }

  override refresh(): Promise<void> {
    return this._mirror.all().then((all) => {
      for (const t of all) this._merge(t);
    });
  }

  /**
   * Cache a stored token, or bring the cached one's counts up to it (a use
   * given back on another daemon is seen here; the backend's `spend` is
   * what enforces them). A revocation seen here is kept; an ended token
   * (no stored PSK) ends the cached one. Takes ownership of `t`.
   */
  private _merge(t: TokenRecord | EndedToken): TokenRecord | undefined {
    const cur = this.get(t.id);
    if ("ended" in t) {
      if (cur && cur.revokedAt === null) {
        cur.uses = Math.max(cur.uses, t.uses);
        if (t.ended === "revoked_token" || cur.usesLeft === null) cur.revokedAt = t.at ?? this.now();
        else {
          cur.usesLeft = 0;
          cur.exhaustedAt ??= t.at ?? this.now();
        }
      }
      if (cur) wipe(cur.psk);
      return cur;
    }
    if (!cur) {
      this.tokens.set(t.id, t);
      return t;
    }
    if (cur.revokedAt === null) {
      cur.uses = t.uses;
      cur.usesLeft = t.usesLeft;
      cur.exhaustedAt = t.exhaustedAt;
      cur.revokedAt = t.revokedAt;
      // Same id, same PSK: puts back one wiped when the cached count reached 0.
      if (typeof this.check(cur.id) !== "string") cur.psk.set(t.psk);
    }
    if (typeof this.check(cur.id) === "string") wipe(cur.psk);
    wipe(t.psk);
    return cur;
  }

  private _track(p: Promise<void>): void {
    const q = p.catch((e) => {
      throw e instanceof HushError ? e : new HushError("unavailable", "the token could not be shared");
    });
    this._writes.add(q);
    const done = () => void this._writes.delete(q);
    q.then(done, done);
  }
}
