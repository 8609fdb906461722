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
 * @module
 */
import { HushError } from "../errors.ts";
import { wipe } from "./_deps.ts";
import { TokenRegistry, type TokenRecord, type TokenRefusal } from "./tokens.ts";

/** Where join tokens are shared. Every method rejects `unavailable` when the backend cannot answer. */
export interface TokenMirror {
  /** Store a new token (PSK sealed). */
  put(t: TokenRecord): Promise<void>;
  /** The token as stored now (with its use count and revocation), or null. */
  get(id: string): Promise<TokenRecord | null>;
  all(): Promise<TokenRecord[]>;
  /** Take one use: the counts after it, or why the token cannot be used. */
  spend(id: string): Promise<{ usesLeft: number | null; uses: number; exhaustedAt: number | null } | TokenRefusal>;
  /** Give back a use taken by `spend`. */
  refund(id: string): Promise<void>;
  revoke(id: string, at: number): Promise<void>;
}

export class SharedTokenRegistry extends TokenRegistry {
  private readonly _writes = new Set<Promise<void>>();

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
    const r = await this._mirror.spend(t.id);
    if (typeof r === "string") return r;
    t.usesLeft = r.usesLeft;
    t.uses = r.uses;
    return null;
  }

  override refund(t: TokenRecord): Promise<void> {
    if (t.usesLeft !== null) t.usesLeft++;
    t.uses--;
    return this._mirror.refund(t.id);
  }

  /** The use was taken by `reserve`: only the PSK of a used-up token is wiped here. */
  override spend(t: TokenRecord): void {
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

  /** Cache a stored token, or bring the cached one's counts and revocation up to it (they only move one way). Takes ownership of `t`. */
  private _merge(t: TokenRecord): TokenRecord {
    const cur = this.get(t.id);
    if (!cur) {
      this.tokens.set(t.id, t);
      return t;
    }
    wipe(t.psk);
    cur.uses = Math.max(cur.uses, t.uses);
    if (t.usesLeft !== null && cur.usesLeft !== null) cur.usesLeft = Math.min(cur.usesLeft, t.usesLeft);
    cur.exhaustedAt ??= t.exhaustedAt;
    if (cur.usesLeft === 0) wipe(cur.psk);
    if (cur.revokedAt === null && t.revokedAt !== null) {
      cur.revokedAt = t.revokedAt;
      wipe(cur.psk);
    }
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
