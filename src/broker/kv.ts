/**
 * Key/value table with per-key TTL and integer counters (PROTOCOL.md §8
 * `/v1/kv`). A value is held as the raw UTF-8 bytes of its JSON text, so it
 * can be zero-filled when dropped and spliced into a response as is.
 *
 * Buffer ownership: `set` takes ownership of the `Uint8Array` it is given (it
 * is stored without a copy and zero-filled when overwritten, deleted, expired
 * or wiped — the caller must not reuse it). `get` returns the stored buffer
 * itself; it stays valid only until the next call that mutates the store, so
 * copy or splice it synchronously.
 *
 * Expiry is checked on every access (an expired entry found is wiped and
 * removed at once); the full scan lives in `sweep`, which the store only runs
 * when something can have expired.
 *
 * TTLs (PROTOCOL.md §8 "Expiry"): a write with `ttl_ms` sets expiry = now +
 * ttl; a write without one keeps a live key's expiry, and gives a new key
 * the daemon's default TTL, else `ttl_required`, else no expiry. A key may
 * *slide*: each successful read (`get`, a claim answered with the value)
 * pushes its expiry out to now + its TTL, but never past its last write +
 * `maxTtlMs` (reads alone cannot keep a key for ever) and never backwards.
 *
 * Compression in memory: a value of `PACK_MIN_BYTES` or more is held
 * zstd-compressed when that saves at least an eighth of it (a repetitive
 * JSON document, a log); others are held as they are. The value limit
 * applies to the value itself (before this), and `bytes` counts what is
 * held, so the memory bound `maxItems × maxValueBytes` holds either way. A
 * read inflates a copy of exactly the value's recorded length (inflation
 * stops there, whatever the held bytes say), so a read costs at most one
 * value, as reading an uncompressed one does; the copy is zero-filled in a
 * microtask, after the caller has spliced it into its answer.
 *
 * Listing is paged (PROTOCOL.md §8 `GET /v1/kv`): keys are also kept in an
 * ordered set, so a page costs O(log n + page), and the cursor is the
 * base64url of the last key of the previous page (opaque to clients).
 * @module
 */
import { zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, toB64u, utf8, wipe } from "../crypto/index.ts";
import { showExpiry, type StoreContext } from "./context.ts";
import { validateName, validatePrefix, validateTtl, type StoreLimits } from "./limits.ts";
import { SortedKeys } from "./sorted.ts";
import { CostBudget } from "./budget.ts";

/** One page of a listing: `next_cursor` is null when no live key follows. */
export interface KeyPage {
  keys: string[];
  next_cursor: string | null;
}

/** One stored value: bytes + expiry (`Infinity` = none) + how reads move it. Kept small and monomorphic. */
class KvEntry {
  v: Uint8Array;
  e: number;
  /** The TTL the expiry was last set from (ms; 0 = none): what a sliding read adds. */
  t: number;
  /** The latest expiry a sliding read may set: last write + maxTtlMs. */
  c: number;
  /** Reads slide the expiry. */
  s: boolean;
  /** The value's length when `v` holds it compressed (zstd); 0 when `v` is the value itself. */
  n: number;
  constructor(v: Uint8Array, e: number, t: number, c: number, s: boolean, n: number) {
    this.v = v;
    this.e = e;
    this.t = t;
    this.c = c;
    this.s = s;
    this.n = n;
  }
}

/** Values shorter than this are held as they are (compressing them saves too little). */
export const PACK_MIN_BYTES = 1024;

/** What to hold for `v`: its zstd form and `v`'s length when that saves an eighth or more (then `v` is wiped), else `v` and 0. */
function pack(v: Uint8Array): [Uint8Array, number] {
  if (v.byteLength < PACK_MIN_BYTES) return [v, 0];
  const z = zstdCompressSync(v);
  if (z.byteLength > v.byteLength - (v.byteLength >> 3)) {
    wipe(z);
    return [v, 0];
  }
  const n = v.byteLength;
  wipe(v);
  return [new Uint8Array(z.buffer, z.byteOffset, z.byteLength), n];
}

/** The value an entry holds: itself, or inflated to exactly its recorded length (a copy, wiped in a microtask). */
function unpack(entry: KvEntry): Uint8Array {
  if (entry.n === 0) return entry.v;
  const out = zstdDecompressSync(entry.v, { maxOutputLength: entry.n });
  if (out.byteLength !== entry.n) {
    wipe(out);
    throw new HushError("internal", "a stored value does not inflate to its length");
  }
  queueMicrotask(() => wipe(out));
  return out;
}

/** Options of a write (`set`). */
export interface SetOptions {
  /** TTL in ms (1 … maxTtlMs); absent: see the module comment. */
  ttlMs?: number;
  /** Write only when no live key exists (`written: false` otherwise; nothing changes). */
  ifAbsent?: boolean;
  /** Reads slide the expiry; absent: the key's current setting, else the daemon's default. */
  slide?: boolean;
}

/** A read: the stored bytes (not a copy) and the expiry after any slide. */
export interface KvRead {
  valueJson: Uint8Array;
  expires_at: number | null;
}

/** Longest JSON text we are willing to parse as a counter (a safe integer needs ≤ 17). */
const MAX_COUNTER_TEXT = 64;

export class KvTable {
  private readonly _map = new Map<string, KvEntry>();
  private readonly _sorted = new SortedKeys();
  private _bytes = 0;
  /** Keys listed per key id (`listRate`): a page's cost grows with its keys. */
  private readonly _listBudget: CostBudget;

  constructor(private readonly _ctx: StoreContext) {
    const rate = _ctx.limits.listRate;
    this._listBudget = new CostBudget(rate, 2 * rate, () => _ctx.now());
  }

  /** Stored entries (live, plus expired ones not yet swept). */
  get size(): number {
    return this._map.size;
  }

  /** Total bytes held for stored values (compressed ones count as held). */
  get bytes(): number {
    return this._bytes;
  }

  /**
   * Store `valueJson` (ownership passes to the table, also when it is not
   * written). With `ifAbsent` and a live key: nothing changes, `written:
   * false` and the key's expiry. Errors: `invalid_request`, `too_large`,
   * `invalid_ttl`, `ttl_required`, `max_items` (nothing changes).
   */
  set(key: string, valueJson: Uint8Array, opts: SetOptions = {}): { expires_at: number | null; written: boolean } {
    const limits = this._ctx.limits;
    try {
      validateName(key, limits);
      checkValue(valueJson, limits.maxValueBytes);
      validateTtl(opts.ttlMs, limits);
      _checkFlag(opts.ifAbsent, "if_absent");
      _checkFlag(opts.slide, "slide");
      const now = this._ctx.now();
      const entry = this._live(key, now);
      if (entry && opts.ifAbsent) {
        wipe(valueJson);
        return { expires_at: showExpiry(entry.e), written: false };
      }
      return { expires_at: showExpiry(this._write(key, entry, valueJson, opts.ttlMs, opts.slide, now)), written: true };
    } catch (e) {
      if (valueJson instanceof Uint8Array) wipe(valueJson);
      throw e;
    }
  }

  /** The live value; a sliding key's expiry moves first. `not_found` when missing or expired. */
  get(key: string): KvRead {
    validateName(key, this._ctx.limits);
    const r = this.read(key, this._ctx.now());
    if (!r) throw new HushError("not_found", "key not found");
    return r;
  }

  /** The live value of a checked key, slid (a read), or undefined. */
  read(key: string, now: number): KvRead | undefined {
    const entry = this._live(key, now);
    if (!entry) return undefined;
    if (entry.s && entry.t > 0) {
      const e = Math.min(now + entry.t, entry.c);
      if (e > entry.e) entry.e = e;
    }
    return { valueJson: unpack(entry), expires_at: showExpiry(entry.e) };
  }

  /**
   * Remaining time to live of a live key in ms (`ttl_ms`, null for a key
   * without expiry) and its expiry. Not a read: it does not slide.
   * `not_found` when missing or expired.
   */
  ttl(key: string): { ttl_ms: number | null; expires_at: number | null } {
    validateName(key, this._ctx.limits);
    const now = this._ctx.now();
    const entry = this._live(key, now);
    if (!entry) throw new HushError("not_found", "key not found");
    return entry.e === Infinity ? { ttl_ms: null, expires_at: null } : { ttl_ms: entry.e - now, expires_at: entry.e };
  }

  del(key: string): { deleted: boolean } {
    validateName(key, this._ctx.limits);
    const entry = this._live(key, this._ctx.now());
    if (!entry) return { deleted: false };
    this._drop(key, entry);
    return { deleted: true };
  }

  /** Every live key under `prefix`, sorted (unpaged: for callers inside the daemon and tests). */
  list(prefix: string): string[] {
    validatePrefix(prefix, this._ctx.limits);
    return this._scan(prefix, undefined, Infinity).keys;
  }

  /**
   * One page of live keys under `prefix`, sorted, after the key that
   * `cursor` names. `limit` defaults to, and is cut to, `maxListPage`.
   * `owner` (a key id) pays for the keys listed from its `listRate` budget.
   * Errors: `invalid_request` for a bad prefix, limit or cursor;
   * `rate_limited` (detail `retryAfter`, seconds) while `owner` is over budget.
   */
  listPage(prefix: string, opts: { limit?: number; cursor?: string; owner?: string } = {}): KeyPage {
    const limits = this._ctx.limits;
    validatePrefix(prefix, limits);
    const limit = opts.limit ?? limits.maxListPage;
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1) {
      throw new HushError("invalid_request", "limit must be a positive integer");
    }
    const after = opts.cursor === undefined ? undefined : decodeCursor(opts.cursor, limits);
    if (opts.owner !== undefined) {
      const wait = this._listBudget.wait(opts.owner);
      if (wait > 0) this._ctx.refuse("list_rate", "rate_limited", `this key listed more than ${limits.listRate} keys per second`, { retryAfter: wait });
    }
    const page = this._scan(prefix, after, Math.min(limit, limits.maxListPage));
    if (opts.owner !== undefined) this._listBudget.charge(opts.owner, page.keys.length);
    return page;
  }

  incr(key: string, by: number, ttlMs?: number): { value: number } {
    const limits = this._ctx.limits;
    validateName(key, limits);
    if (typeof by !== "number" || !Number.isSafeInteger(by)) {
      throw new HushError("invalid_request", "by must be a safe integer");
    }
    validateTtl(ttlMs, limits);
    const now = this._ctx.now();
    const entry = this._live(key, now);
    let value = by;
    if (entry) {
      const current = entry.n === 0 ? parseCounter(entry.v) : null;
      if (current === null) throw new HushError("invalid_request", "value of key is not an integer");
      value = current + by;
      if (!Number.isSafeInteger(value)) {
        throw new HushError("invalid_request", "incr result is outside the safe integer range");
      }
    }
    const bytes = utf8(String(value));
    if (bytes.byteLength > limits.maxValueBytes) {
      throw new HushError("too_large", `value is larger than ${limits.maxValueBytes} bytes`);
    }
    this._write(key, entry, bytes, ttlMs, undefined, now);
    return { value };
  }

  /** Forget the listing budgets that have refilled (keys that have not listed lately). */
  pruneListBudget(): void {
    this._listBudget.prune();
  }

  /** Wipe and remove every expired entry; report survivors' expiries to the context. */
  sweep(now: number): number {
    let removed = 0;
    for (const [k, entry] of this._map) {
      if (entry.e <= now) {
        this._drop(k, entry);
        removed++;
      } else {
        this._ctx.noteExpiry(entry.e);
      }
    }
    return removed;
  }

  /** Zero-fill every value and drop everything. */
  wipe(): void {
    for (const entry of this._map.values()) wipe(entry.v);
    this._map.clear();
    this._sorted.clear();
    this._bytes = 0;
  }

  /** Up to `limit` live keys under `prefix` after `after`; expired keys met on the way are dropped. */
  private _scan(prefix: string, after: string | undefined, limit: number): KeyPage {
    const now = this._ctx.now();
    const pos = after !== undefined && after >= prefix ? this._sorted.seek(after, true) : this._sorted.seek(prefix);
    const keys: string[] = [];
    const expired: string[] = [];
    let more = false;
    for (let k = this._sorted.next(pos); k !== undefined && k.startsWith(prefix); k = this._sorted.next(pos)) {
      if (this._map.get(k)!.e <= now) expired.push(k);
      else if (keys.length === limit) {
        more = true;
        break;
      } else keys.push(k);
    }
    for (const k of expired) this._drop(k, this._map.get(k)!);
    return { keys, next_cursor: more ? encodeCursor(keys[keys.length - 1]) : null };
  }

  /** The entry if it is live; an expired one is wiped and removed on the way. */
  private _live(key: string, now: number): KvEntry | undefined {
    const entry = this._map.get(key);
    if (entry === undefined) return undefined;
    if (entry.e <= now) {
      this._drop(key, entry);
      return undefined;
    }
    return entry;
  }

  /**
   * Write checked bytes under `key` (`entry`: its live entry, if any);
   * returns the expiry. The TTL: the given one, else the live entry's (its
   * expiry kept), else the default TTL, else `ttl_required`, else none.
   * Throws before it changes anything.
   */
  private _write(key: string, entry: KvEntry | undefined, v: Uint8Array, ttlMs: number | undefined, slide: boolean | undefined, now: number): number {
    const limits = this._ctx.limits;
    let e: number;
    let t: number;
    if (ttlMs !== undefined) [e, t] = [now + ttlMs, ttlMs];
    else if (entry) [e, t] = [entry.e, entry.t];
    else if (limits.defaultTtlMs > 0) [e, t] = [now + limits.defaultTtlMs, limits.defaultTtlMs];
    else if (limits.ttlRequired) throw new HushError("ttl_required", "ttl_ms is required for a new key");
    else [e, t] = [Infinity, 0];
    const s = slide ?? entry?.s ?? limits.slidingTtl;
    const c = now + limits.maxTtlMs;
    if (!entry) this._ctx.reserveItem(now);
    const [held, n] = pack(v);
    if (entry) {
      if (entry.v !== held) wipe(entry.v);
      this._bytes += held.byteLength - entry.v.byteLength;
      entry.v = held;
      entry.e = e;
      entry.t = t;
      entry.c = c;
      entry.s = s;
      entry.n = n;
    } else {
      this._map.set(key, new KvEntry(held, e, t, c, s, n));
      this._sorted.insert(key);
      this._bytes += held.byteLength;
    }
    this._ctx.noteExpiry(e);
    return e;
  }

  private _drop(key: string, entry: KvEntry): void {
    this._bytes -= entry.v.byteLength;
    wipe(entry.v);
    this._map.delete(key);
    this._sorted.remove(key);
  }
}

/** The cursor after `key`: base64url of its UTF-8 (clients treat it as opaque). */
export function encodeCursor(key: string): string {
  return toB64u(utf8(key));
}

/** The key a cursor names; `invalid_request` unless it is a cursor this daemon could have made. */
export function decodeCursor(cursor: string, limits: StoreLimits): string {
  let key: string;
  try {
    if (typeof cursor !== "string" || cursor.length === 0 || cursor.length > 4 * limits.maxKeyBytes) throw new Error();
    key = new TextDecoder("utf-8", { fatal: true }).decode(fromB64u(cursor));
    validateName(key, limits);
  } catch {
    throw new HushError("invalid_request", "cursor is not valid (pass next_cursor from the previous page)");
  }
  return key;
}

function _checkFlag(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== "boolean") throw new HushError("invalid_request", `${field} must be true or false`);
}

/** A value's bytes as `set` accepts them: `invalid_request` (not bytes, empty), `too_large`. */
export function checkValue(valueJson: Uint8Array, max: number): void {
  if (!(valueJson instanceof Uint8Array)) throw new HushError("invalid_request", "value must be JSON bytes");
  if (valueJson.byteLength === 0) throw new HushError("invalid_request", "value must not be empty");
  if (valueJson.byteLength > max) throw new HushError("too_large", `value is larger than ${max} bytes`);
}

/**
 * A stored value as a counter: a JSON number with a safe-integer value
 * (`5`, `-3`, `1e3`), or null. Only short texts that start like a number are
 * decoded, so a stored secret is never turned into a string here.
 */
export function parseCounter(v: Uint8Array): number | null {
  if (v.byteLength > MAX_COUNTER_TEXT) return null;
  let i = 0;
  while (i < v.length && (v[i] === 0x20 || v[i] === 0x09 || v[i] === 0x0a || v[i] === 0x0d)) i++;
  const c = v[i];
  if (c === undefined || !(c === 0x2d || (c >= 0x30 && c <= 0x39))) return null;
  let n: unknown;
  try {
    n = JSON.parse(fromUtf8(v));
  } catch {
    return null;
  }
  return typeof n === "number" && Number.isSafeInteger(n) ? n : null;
}
