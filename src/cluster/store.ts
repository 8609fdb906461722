/**
 * `RedisStore`: the coordination state (KV with TTL, counters, locks with
 * fencing tokens, lease pools) in Redis, shared by every daemon that points
 * at the same Redis and prefix, with values and names sealed under the
 * cluster key (docs/CLUSTER.md §3–§6). Implements the `StateBackend`
 * contract of src/broker/backend.ts with the same answers and errors as the
 * in-memory store; test/cluster/contract.test.ts runs one suite on both.
 *
 * Inputs are checked here, with the in-memory store's checks, before
 * anything is sent; each change is then one script (scripts.ts). A counter
 * is read, added to here and written back by compare-and-set (a sealed
 * number cannot be added to in Redis). Listing opens the KV names (O(n) per
 * page, n ≤ maxItems). Every call throws `unavailable` while Redis cannot
 * answer (connection.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { fromUtf8, utf8, wipe } from "../crypto/index.ts";
import {
  CostBudget,
  LimitTally,
  checkLease,
  checkValue,
  decodeCursor,
  encodeCursor,
  parseCounter,
  requireTtl,
  resolveLimits,
  validateHolder,
  validateName,
  validatePrefix,
  validateToken,
  validateTtl,
  type ClaimAnswer,
  type KeyPage,
  type KvRead,
  type LeaseGrant,
  type LeaseOptions,
  type SetOptions,
  type StateBackend,
  type StoreLimits,
  type StoreStats,
} from "../broker/index.ts";
import type { RedisConnection } from "./connection.ts";
import type { ClusterSeal } from "./sealing.ts";

/** Compare-and-set attempts of one `incr` before `busy`. */
const INCR_ATTEMPTS = 16;
/** Expired index entries a sweep removes per kind (the scripts remove more as they meet them). */
const SWEEP_LIMIT = 500;

export class RedisStore implements StateBackend {
  readonly kind = "redis";
  readonly limits: StoreLimits;
  readonly refusals = new LimitTally();
  private readonly _listBudget: CostBudget;
  /** The highest token this daemon has handed out: a floor for `P tok` if Redis loses it (§6). */
  private _hw = 0;
  private _stats: StoreStats = { items: 0, kv: 0, locks: 0, claims: 0, pools: 0, leases: 0, bytes: null };
  /** The last increment queued per key (see `incr`). */
  private readonly _incrs = new Map<string, Promise<unknown>>();
  /** Opened names by sealed text (unique per sealing), so a listing opens each name once. */
  private readonly _names = new Map<string, string>();

  constructor(
    private readonly _conn: RedisConnection,
    private readonly _seal: ClusterSeal,
    limits?: Partial<StoreLimits>,
  ) {
    this.limits = resolveLimits(limits);
    const rate = this.limits.listRate;
    this._listBudget = new CostBudget(rate, 2 * rate, () => Date.now());
  }

  /** Why the backend cannot serve now, or null. */
  unavailable(): string | null {
    return this._conn.unavailable();
  }

  // ---- KV -------------------------------------------------------------------

  async set(key: string, valueJson: Uint8Array, opts: SetOptions = {}): Promise<{ expires_at: number | null; written: boolean }> {
    let sealed: string;
    try {
      validateName(key, this.limits);
      checkValue(valueJson, this.limits.maxValueBytes);
      validateTtl(opts.ttlMs, this.limits);
      checkFlag(opts.ifAbsent, "if_absent");
      checkFlag(opts.slide, "slide");
      sealed = this._seal.seal("kv", key, valueJson);
    } finally {
      if (valueJson instanceof Uint8Array) wipe(valueJson);
    }
    const r = await this._write(key, sealed, opts.ttlMs, "", opts.slide, opts.ifAbsent === true); // unconditional: never "retry"
    if (r === "retry") throw new HushError("internal", "unexpected answer from the state backend");
    return { expires_at: r.expiry, written: r.written };
  }

  async get(key: string): Promise<KvRead> {
    validateName(key, this.limits);
    const r = await this._read(key, true);
    if (r === null) throw new HushError("not_found", "key not found");
    return { valueJson: this._seal.open("kv", key, r.sealed), expires_at: r.expires_at };
  }

  async ttl(key: string): Promise<{ ttl_ms: number | null; expires_at: number | null }> {
    validateName(key, this.limits);
    const r = await this._read(key, false);
    if (r === null) throw new HushError("not_found", "key not found");
    return r.expires_at === null ? { ttl_ms: null, expires_at: null } : { ttl_ms: Math.max(1, r.expires_at - r.now), expires_at: r.expires_at };
  }

  async del(key: string): Promise<{ deleted: boolean }> {
    validateName(key, this.limits);
    const [, n] = await this._conn.run("kvDel", [this._seal.id("kv", key)]);
    return { deleted: n === 1 };
  }

  async incr(key: string, by: number, ttlMs?: number): Promise<{ value: number }> {
    const limits = this.limits;
    validateName(key, limits);
    if (typeof by !== "number" || !Number.isSafeInteger(by)) throw new HushError("invalid_request", "by must be a safe integer");
    validateTtl(ttlMs, limits);
    // One at a time per key in this daemon: its own increments never race each other.
    const prev = this._incrs.get(key);
    const run = (prev ?? Promise.resolve()).then(() => this._incr(key, by, ttlMs));
    const tail = run.catch(() => {});
    this._incrs.set(key, tail);
    void tail.then(() => this._incrs.get(key) === tail && this._incrs.delete(key));
    return run;
  }

  /** Read, add, compare-and-set; another daemon's increment in between means a retry (with a short random pause). */
  private async _incr(key: string, by: number, ttlMs: number | undefined): Promise<{ value: number }> {
    const limits = this.limits;
    for (let i = 0; i < INCR_ATTEMPTS; i++) {
      if (i > 0) await Bun.sleep(Math.random() * Math.min(2 ** i, 20));
      const cur = await this._read(key, false);
      let value = by;
      if (cur !== null) {
        const plain = this._seal.open("kv", key, cur.sealed);
        const n = parseCounter(plain);
        wipe(plain);
        if (n === null) throw new HushError("invalid_request", "value of key is not an integer");
        value = n + by;
        if (!Number.isSafeInteger(value)) throw new HushError("invalid_request", "incr result is outside the safe integer range");
      }
      const bytes = utf8(String(value));
      if (bytes.byteLength > limits.maxValueBytes) throw new HushError("too_large", `value is larger than ${limits.maxValueBytes} bytes`);
      const r = await this._write(key, this._seal.seal("kv", key, bytes), ttlMs, cur === null ? "-" : cur.sealed, undefined, false);
      if (r !== "retry") return { value };
    }
    throw new HushError("busy", "the counter changed under every attempt; try again");
  }

  async listPage(prefix: string, opts: { limit?: number; cursor?: string; owner?: string } = {}): Promise<KeyPage> {
    const limits = this.limits;
    validatePrefix(prefix, limits);
    const limit = opts.limit ?? limits.maxListPage;
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) throw new HushError("invalid_request", "limit must be a positive integer");
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, limits);
    if (opts.owner !== undefined) {
      const wait = this._listBudget.wait(opts.owner);
      if (wait > 0) this.refusals.refuse("list_rate", "rate_limited", `this key listed more than ${limits.listRate} keys per second`, { retryAfter: wait });
    }
    const [, pairs] = (await this._conn.run("kvNames", [])) as [string, string[]];
    const names: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const name = this._openName(pairs[i], pairs[i + 1]);
      if (name.startsWith(prefix) && (after === undefined || name > after)) names.push(name);
    }
    names.sort();
    const keys = names.slice(0, Math.min(limit, limits.maxListPage));
    if (opts.owner !== undefined) this._listBudget.charge(opts.owner, keys.length);
    return { keys, next_cursor: names.length > keys.length ? encodeCursor(keys[keys.length - 1]) : null };
  }

  // ---- claims: getOrSet's creation step ----------------------------------------

  async claimKey(key: string, ttlMs: number | undefined, owner?: string): Promise<ClaimAnswer> {
    validateName(key, this.limits);
    requireTtl(ttlMs, "a claim");
    validateTtl(ttlMs, this.limits);
    const id = this._seal.id("kv", key);
    const r = await this._conn.run("claim", [id, this._sealName("c:" + id, key), ttlMs, owner ?? "-", this.limits.maxItems, this._hw]);
    if (r[0] === "value") return { state: "value", valueJson: this._seal.open("kv", key, r[1]), expires_at: r[2] < 0 ? null : r[2] };
    if (r[0] === "conflict") throw new HushError("conflict", "claim is held", { expiresAt: r[1] });
    this._refusedForRoom(r[0]);
    return { state: "claimed", token: this._token(r[1]), expires_at: r[2] };
  }

  renewClaim(key: string, token: number, ttlMs?: number, owner?: string): Promise<{ expires_at: number }> {
    validateName(key, this.limits);
    return this._renew(CLAIM_WORDS, this._seal.id("kv", key), token, ttlMs, owner);
  }

  releaseClaim(key: string, token: number, owner?: string): Promise<{ released: boolean }> {
    validateName(key, this.limits);
    return this._release(CLAIM_WORDS, this._seal.id("kv", key), token, owner);
  }

  // ---- locks ----------------------------------------------------------------

  async acquireLock(name: string, ttlMs: number | undefined, holder?: string, owner?: string): Promise<{ token: number; expires_at: number }> {
    validateName(name, this.limits, "lock name");
    requireTtl(ttlMs, "a lock");
    validateTtl(ttlMs, this.limits);
    validateHolder(holder);
    const id = this._seal.id("lock", name);
    const r = await this._conn.run("lockAcquire", ["l", id, this._sealName("l:" + id, name), ttlMs, this._holder(holder), owner ?? "-", this.limits.maxItems, this._hw]);
    if (r[0] === "conflict") throw new HushError("conflict", "lock is held", { expiresAt: r[1] });
    this._refusedForRoom(r[0]);
    return { token: this._token(r[1]), expires_at: r[2] };
  }

  renewLock(name: string, token: number, ttlMs?: number, owner?: string): Promise<{ expires_at: number }> {
    validateName(name, this.limits, "lock name");
    return this._renew(LOCK_WORDS, this._seal.id("lock", name), token, ttlMs, owner);
  }

  releaseLock(name: string, token: number, owner?: string): Promise<{ released: boolean }> {
    validateName(name, this.limits, "lock name");
    return this._release(LOCK_WORDS, this._seal.id("lock", name), token, owner);
  }

  private async _renew(w: HoldWords, id: string, token: number, ttlMs: number | undefined, owner: string | undefined): Promise<{ expires_at: number }> {
    validateToken(token);
    validateTtl(ttlMs, this.limits);
    const r = await this._conn.run("lockRenew", [w.kind, id, token, ttlMs ?? "", owner ?? "-"]);
    if (r[0] === "not_found") throw new HushError("not_found", `${w.thing} is not held`);
    if (r[0] === "conflict_owner") throw new HushError("conflict", `the ${w.thing} was taken by another key`);
    if (r[0] === "conflict_token") throw new HushError("conflict", `token does not hold the ${w.thing}`);
    return { expires_at: r[1] };
  }

  private async _release(w: HoldWords, id: string, token: number, owner: string | undefined): Promise<{ released: boolean }> {
    validateToken(token);
    const r = await this._conn.run("lockRelease", [w.kind, id, token, owner ?? "-"]);
    if (r[0] === "conflict_owner") throw new HushError("conflict", `the ${w.thing} was taken by another key`);
    return { released: r[1] === 1 };
  }

  // ---- pools ----------------------------------------------------------------

  async leasePool(name: string, size: number, ttlMs: number | undefined, holder?: string, owner?: string, opts: LeaseOptions = {}): Promise<LeaseGrant> {
    const limits = this.limits;
    checkLease(limits, name, size, ttlMs, holder, opts);
    const want = opts.onePerHolder;
    const id = this._seal.id("pool", name);
    const r = await this._conn.run("poolLease", [id, this._sealName("p:" + id, name), size, ttlMs, this._holder(holder), owner ?? "-", limits.maxItems, this._hw, want === undefined ? "" : want ? "1" : "0"]);
    _poolErrors(r);
    this._refusedForRoom(r[0]);
    return { slot: r[1], token: this._token(r[2]), expires_at: r[3] };
  }

  async renewPool(name: string, token: number, ttlMs?: number, owner?: string): Promise<{ expires_at: number }> {
    validateName(name, this.limits, "pool name");
    validateToken(token);
    validateTtl(ttlMs, this.limits);
    const r = await this._conn.run("poolRenew", [this._seal.id("pool", name), token, ttlMs ?? "", owner ?? "-"]);
    if (r[0] === "conflict_owner") throw new HushError("conflict", "the lease was taken by another key");
    if (r[0] === "not_found") throw new HushError("not_found", "no live lease with that token");
    return { expires_at: r[1] };
  }

  async releasePool(name: string, token: number, owner?: string): Promise<{ released: boolean }> {
    validateName(name, this.limits, "pool name");
    validateToken(token);
    const r = await this._conn.run("poolRelease", [this._seal.id("pool", name), token, owner ?? "-"]);
    if (r[0] === "conflict_owner") throw new HushError("conflict", "the lease was taken by another key");
    return { released: r[1] === 1 };
  }

  async releaseOwner(owner: string): Promise<{ locks: string[]; pools: string[]; claims: string[] }> {
    const [, locks, pools, claims] = (await this._conn.run("releaseOwner", [owner])) as [string, string[], string[], string[]];
    return { locks: this._openNames(locks), pools: this._openNames(pools), claims: this._openNames(claims) };
  }

  // ---- housekeeping ---------------------------------------------------------

  async sweep(): Promise<number> {
    const [, removed, kv, locks, claims, pools, leases] = await this._conn.run("sweep", [SWEEP_LIMIT]);
    this._stats = { items: kv + locks + claims + leases, kv, locks, claims, pools, leases, bytes: null };
    if (this._names.size > 2 * this.limits.maxItems) this._names.clear();
    return removed;
  }

  async stats(): Promise<StoreStats> {
    const [, kv, locks, claims, pools, leases] = await this._conn.run("stats", []);
    return (this._stats = { items: kv + locks + claims + leases, kv, locks, claims, pools, leases, bytes: null });
  }

  statsNow(): StoreStats {
    return this._stats;
  }

  /** Close the connection and wipe the derived keys; the shared state stays for the other daemons. */
  close(): void {
    this._conn.close();
    this._seal.wipe();
    this._names.clear();
  }

  // ---- internals --------------------------------------------------------------

  /** The KV read script (`slide`: a read, which moves a sliding key's expiry); the sealed value, the expiry and the Redis time. */
  private async _read(key: string, slide: boolean): Promise<{ sealed: string; expires_at: number | null; now: number } | null> {
    const r = await this._conn.run("kvGet", [this._seal.id("kv", key), slide ? "1" : "0"]);
    return r[0] === "none" ? null : { sealed: r[1], expires_at: r[2] < 0 ? null : r[2], now: r[3] };
  }

  /**
   * The KV write script; `expect` "" = unconditional, "-" = only if absent,
   * else only if the record is still `expect`; `ifAbsent`: a live key is kept
   * (`written: false`). The expiry (null for none), or "retry".
   */
  private async _write(key: string, sealed: string, ttlMs: number | undefined, expect: string, slide: boolean | undefined, ifAbsent: boolean): Promise<{ expiry: number | null; written: boolean } | "retry"> {
    const id = this._seal.id("kv", key);
    const l = this.limits;
    const r = await this._conn.run("kvSet", [
      id, sealed, this._sealName("k:" + id, key), ttlMs ?? "", l.maxItems, l.ttlRequired ? "1" : "0", expect,
      l.defaultTtlMs, slide === undefined ? "" : slide ? "1" : "0", l.slidingTtl ? "1" : "0", l.maxTtlMs, ifAbsent ? "1" : "0",
    ]);
    if (r[0] === "ttl_required") throw new HushError("ttl_required", "ttl_ms is required for a new key");
    this._refusedForRoom(r[0]);
    if (r[0] === "retry") return "retry";
    return { expiry: r[1] < 0 ? null : r[1], written: r[0] === "ok" };
  }

  private _refusedForRoom(word: string): void {
    if (word === "max_items") this.refusals.refuse("items", "max_items", `store is full (${this.limits.maxItems} items)`);
  }

  private _token(t: number): number {
    if (t > this._hw) this._hw = t;
    return t;
  }

  private _holder(holder: string | undefined): string {
    return holder === undefined ? "-" : this._seal.id("holder", holder);
  }

  private _sealName(field: string, name: string): string {
    return this._seal.seal("name", field, utf8(name));
  }

  /** A name from `P names`, checked against its field's id. */
  private _openName(field: string, sealed: string): string {
    let name = this._names.get(sealed);
    if (name === undefined) {
      name = fromUtf8(this._seal.open("name", field, sealed));
      this._names.set(sealed, name);
    }
    return name;
  }

  private _openNames(pairs: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < pairs.length; i += 2) out.push(this._openName(pairs[i], pairs[i + 1]));
    return out;
  }
}

interface HoldWords {
  /** The script's kind letter. */
  kind: "l" | "c";
  thing: string;
}
const LOCK_WORDS: HoldWords = { kind: "l", thing: "lock" };
const CLAIM_WORDS: HoldWords = { kind: "c", thing: "claim" };

/** The pool lease script's refusals, as the in-memory pool words them. */
function _poolErrors(r: any[]): void {
  switch (r[0]) {
    case "conflict_size":
      throw new HushError("conflict", `pool has size ${r[1]}`, { size: r[1] });
    case "conflict_oph":
      throw new HushError("conflict", `pool is ${r[1] === "1" ? "" : "not "}one-per-holder`, { onePerHolder: r[1] === "1" });
    case "conflict_holder":
      throw new HushError("conflict", "another key holds a slot under this holder name", { expiresAt: r[1] });
    case "exhausted":
      throw new HushError("conflict", "pool is exhausted", { size: r[1], expiresAt: r[2] });
    case "holder_required":
      throw new HushError("invalid_request", "holder is required in a one-per-holder pool");
  }
}

function checkFlag(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== "boolean") throw new HushError("invalid_request", `${field} must be true or false`);
}
