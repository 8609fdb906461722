/**
 * Join tokens (PROTOCOL.md §5): an id, a 32-byte PSK, a use count, an expiry,
 * the tags every worker joined with it receives, and the server key it was
 * minted under.
 *
 * Invariants: the PSK is never listed; a use is spent only by a completed
 * handshake (`spend`), never by a failed attempt; a revoked, expired or
 * exhausted token is refused, and the refusal carries a precise reason for
 * audit and metrics only.
 *
 * Bounds: at most `maxTokens` usable tokens (`max_items` past it); records
 * of tokens that can no longer be used are kept an hour for listings
 * (`list({ all: true })`), and the oldest are dropped sooner beyond twice
 * `maxTokens` records.
 * @module
 */
import { HushError } from "../errors.ts";
import { TTL_LIMITS, randomBytes, wipe } from "./_deps.ts";
import { checkLimit, LimitTally } from "./limits.ts";
import { formatTokenId } from "../keys/strings.ts";
import { DEFAULT_KEY_TTL_MS, ENDED_RECORD_KEEP_MS, validateKeyTtl, validateTags } from "./registry.ts";

export const DEFAULT_TOKEN_TTL_MS = TTL_LIMITS.token.defaultMs;
export const MAX_TOKEN_TTL_MS = TTL_LIMITS.token.maxMs;
export const MAX_TOKEN_USES = 1_000_000;
export const DEFAULT_MAX_TOKENS = 1_000;

export interface TokenRecord {
  id: string;
  psk: Uint8Array;
  /** null = unlimited. */
  usesLeft: number | null;
  uses: number;
  tags: string[];
  workerTtlMs: number;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** When its last use was spent (null while it has uses left, or is unlimited). */
  exhaustedAt?: number | null;
  /** Which server key (by id) answers joins with this token. */
  serverKeyId: string;
}

export type TokenRefusal = "unknown_token" | "expired_token" | "exhausted_token" | "revoked_token";

export interface TokenInfo {
  id: string;
  uses_left: number | null;
  uses: number;
  tags: string[];
  worker_ttl_ms: number;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  server_key_id: string;
  status: "active" | "expired" | "exhausted" | "revoked";
}

export interface TokenSettings {
  ttlMs?: unknown;
  uses?: unknown;
  tags?: unknown;
  workerTtlMs?: unknown;
}

function validateUses(u: unknown): number | null {
  if (u === undefined || u === null) return 1;
  if (u === "unlimited") return null;
  if (typeof u !== "number" || !Number.isSafeInteger(u) || u < 1 || u > MAX_TOKEN_USES) {
    throw new HushError("invalid_request", `uses must be an integer 1–${MAX_TOKEN_USES} or "unlimited"`);
  }
  return u;
}

function validateTokenTtl(t: unknown): number {
  if (t === undefined) return DEFAULT_TOKEN_TTL_MS;
  if (typeof t !== "number" || !Number.isSafeInteger(t) || t <= 0 || t > MAX_TOKEN_TTL_MS) {
    throw new HushError("invalid_ttl", `ttl_ms must be a positive integer ≤ ${MAX_TOKEN_TTL_MS} (30 days)`);
  }
  return t;
}

export class TokenRegistry {
  protected readonly tokens = new Map<string, TokenRecord>();
  private readonly maxTokens: number;
  /** Refusals by limit (`tokens`). */
  readonly refusals = new LimitTally();

  constructor(
    protected readonly now: () => number,
    limits: { maxTokens?: number } = {},
  ) {
    this.maxTokens = checkLimit(limits.maxTokens ?? DEFAULT_MAX_TOKENS, "maxTokens");
  }

  /** A new token; `max_items` when `maxTokens` tokens are usable (O(tokens), admin only). */
  create(s: TokenSettings, serverKeyId: string): TokenRecord {
    const ttl = validateTokenTtl(s.ttlMs);
    const usesLeft = validateUses(s.uses);
    const tags = validateTags(s.tags);
    const workerTtlMs = s.workerTtlMs === undefined ? undefined : validateKeyTtl(s.workerTtlMs);
    if (this.count().active >= this.maxTokens) {
      this.refusals.refuse("tokens", "max_items", `at most ${this.maxTokens} usable join tokens (revoke some, or wait for them to expire)`);
    }
    let id: string;
    do id = formatTokenId(randomBytes(9));
    while (this.tokens.has(id));
    const t = this.now();
    const rec: TokenRecord = {
      id,
      psk: randomBytes(32),
      usesLeft,
      uses: 0,
      tags,
      workerTtlMs: workerTtlMs ?? DEFAULT_KEY_TTL_MS,
      createdAt: t,
      expiresAt: t + ttl,
      revokedAt: null,
      serverKeyId,
    };
    this.tokens.set(id, rec);
    return rec;
  }

  get(id: string): TokenRecord | undefined {
    return this.tokens.get(id);
  }

  /** The token if it may be used now, else the precise reason it may not. */
  check(id: string): TokenRecord | TokenRefusal {
    const t = this.tokens.get(id);
    if (!t) return "unknown_token";
    if (t.revokedAt !== null) return "revoked_token";
    if (t.expiresAt <= this.now()) return "expired_token";
    if (t.usesLeft !== null && t.usesLeft <= 0) return "exhausted_token";
    return t;
  }

  /** `check` as the cluster sees it now: a shared registry (src/cluster) reads the token's counts from its backend first. */
  lookup(id: string): TokenRecord | TokenRefusal | Promise<TokenRecord | TokenRefusal> {
    return this.check(id);
  }

  /** A shared registry: the token as stored now, cached; undefined here (this registry is the only copy). */
  fetch(_id: string): Promise<TokenRecord | undefined> | undefined {
    return undefined;
  }

  /**
   * Take one use before the worker's key is made (a shared registry takes
   * it in the backend, so concurrent joins on several daemons cannot both
   * have it); null, or why it cannot be used. Here the use is taken by
   * `spend` once the join is recorded, so this only checks.
   */
  reserve(t: TokenRecord): TokenRefusal | null | Promise<TokenRefusal | null> {
    const c = this.check(t.id);
    return typeof c === "string" ? c : null;
  }

  /** Give back what `reserve` took (the join was taken back). Nothing here. */
  refund(_t: TokenRecord): void | Promise<void> {}

  /** A shared registry: resolves once every change made so far is in the backend; undefined here. */
  flush(): Promise<void> | undefined {
    return undefined;
  }

  /** A shared registry: load every token the backend holds (before a listing); undefined here. */
  refresh(): Promise<void> | undefined {
    return undefined;
  }

  /** Spend one use (only after a completed handshake). The PSK of a used-up token is wiped. */
  spend(t: TokenRecord): void {
    t.uses++;
    if (t.usesLeft !== null) {
      t.usesLeft--;
      if (t.usesLeft === 0) {
        wipe(t.psk);
        t.exhaustedAt = this.now();
      }
    }
  }

  revoke(id: string): TokenRecord {
    const t = this.tokens.get(id);
    if (!t) throw new HushError("not_found", `no token with id ${id}`);
    if (t.revokedAt === null) {
      t.revokedAt = this.now();
      wipe(t.psk);
    }
    return t;
  }

  /** Take back a token that was just created and never shown (its change could not be recorded): gone, PSK wiped. */
  discard(id: string): void {
    const t = this.tokens.get(id);
    if (!t) return;
    this.tokens.delete(id);
    wipe(t.psk);
  }

  /** Refuse every token minted under a retired server key. */
  revokeForServerKey(serverKeyId: string): number {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (t.serverKeyId === serverKeyId && t.revokedAt === null) {
        this.revoke(t.id);
        n++;
      }
    }
    return n;
  }

  info(t: TokenRecord): TokenInfo {
    const c = this.check(t.id);
    return {
      id: t.id,
      uses_left: t.usesLeft,
      uses: t.uses,
      tags: t.tags,
      worker_ttl_ms: t.workerTtlMs,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
      revoked_at: t.revokedAt,
      server_key_id: t.serverKeyId,
      status: typeof c === "string" ? (c === "revoked_token" ? "revoked" : c === "expired_token" ? "expired" : "exhausted") : "active",
    };
  }

  /** The usable tokens; with `all`, also those that ended less than `ENDED_RECORD_KEEP_MS` ago (see `sweep`). */
  list(opts: { all?: boolean } = {}): TokenInfo[] {
    const out: TokenInfo[] = [];
    for (const t of this.tokens.values()) {
      const info = this.info(t);
      if (opts.all || info.status === "active") out.push(info);
    }
    return out;
  }

  count(): { active: number; total: number } {
    let active = 0;
    for (const t of this.tokens.values()) if (typeof this.check(t.id) !== "string") active++;
    return { active, total: this.tokens.size };
  }

  /**
   * Wipe PSKs of tokens that can no longer be used; drop their records
   * `keepMs` after they ended, and sooner (oldest first) beyond twice
   * `maxTokens` records.
   */
  sweep(keepMs = ENDED_RECORD_KEEP_MS): void {
    const now = this.now();
    const ended: [string, number][] = [];
    for (const [id, t] of this.tokens) {
      if (typeof this.check(t.id) !== "string") continue;
      wipe(t.psk);
      const endedAt = Math.min(t.revokedAt ?? Infinity, t.exhaustedAt ?? Infinity, t.expiresAt);
      if (endedAt + keepMs < now) this.tokens.delete(id);
      else ended.push([id, endedAt]);
    }
    const excess = this.tokens.size - 2 * this.maxTokens;
    if (excess > 0) for (const [id] of ended.sort((a, b) => a[1] - b[1]).slice(0, excess)) this.tokens.delete(id);
  }

  wipe(): void {
    for (const t of this.tokens.values()) wipe(t.psk);
    this.tokens.clear();
  }
}
