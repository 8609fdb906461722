/**
 * Store limits, their secure defaults, and the input checks shared by the
 * KV, lock and pool tables (PROTOCOL.md §1 error codes, §8 name rules).
 *
 * Every check throws `HushError` with a message that names the field and the
 * limit; none ever echoes a value (values may be secrets). Names are not
 * secret and may be quoted by callers, but these checks do not need to.
 * @module
 */
import { HushError, type ErrorCode } from "../errors.ts";
import { TTL_LIMITS } from "./_deps.ts";

export interface StoreLimits {
  /** Live KV keys + held locks + held claims + live pool leases. */
  maxItems: number;
  /** Byte length of a value's JSON encoding. */
  maxValueBytes: number;
  /** UTF-8 byte length of a key, lock or pool name. */
  maxKeyBytes: number;
  /**
   * A new KV key must end up with an expiry: it comes with a TTL, or gets
   * `defaultTtlMs`. False: a new key without a TTL never expires (only
   * without a default TTL). Locks, claims and pool leases always need one.
   */
  ttlRequired: boolean;
  /** TTL of a new KV key written without one (ms); 0 = none (then `ttlRequired` decides). */
  defaultTtlMs: number;
  /** Keys written without `slide` slide (each read pushes their expiry out by their TTL). */
  slidingTtl: boolean;
  /** Upper bound of every `ttl_ms`; also how far past its last write a sliding read may push a key. */
  maxTtlMs: number;
  /** Upper bound of a pool's `size` (live leases are bounded by `maxItems` as well). */
  maxPoolSize: number;
  /** Most keys in one page of a KV listing (a larger `limit` is cut to this). */
  maxListPage: number;
  /** Keys one key id may list per second (bursts of twice that); 0 = unlimited. */
  listRate: number;
}

/** Secure defaults (the ephemeral-broker SECURITY limits). */
export const DEFAULT_LIMITS: StoreLimits = Object.freeze({
  maxItems: 10_000,
  maxValueBytes: 256 * 1024,
  maxKeyBytes: 256,
  ttlRequired: true,
  defaultTtlMs: 0,
  slidingTtl: false,
  maxTtlMs: TTL_LIMITS.store.maxMs,
  maxPoolSize: 65_536,
  maxListPage: 1000,
  listRate: 20_000,
});

/** Longest holder string, in characters (code points). */
export const MAX_HOLDER_CHARS = 256;

/** Merge overrides into the defaults; fail fast on nonsense (queue-runtime: fail fast on bad config). */
export function resolveLimits(overrides: Partial<StoreLimits> = {}): StoreLimits {
  const l: StoreLimits = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof StoreLimits)[]) {
    const v = overrides[k];
    if (v !== undefined) (l as unknown as Record<string, unknown>)[k] = v;
  }
  for (const k of ["maxItems", "maxValueBytes", "maxKeyBytes", "maxTtlMs", "maxPoolSize", "maxListPage"] as const) {
    if (!Number.isSafeInteger(l[k]) || l[k] < 1) {
      throw new HushError("invalid_request", `limits.${k} must be a positive integer`);
    }
  }
  if (!Number.isSafeInteger(l.listRate) || l.listRate < 0) {
    throw new HushError("invalid_request", "limits.listRate must be an integer ≥ 0");
  }
  for (const k of ["ttlRequired", "slidingTtl"] as const) {
    if (typeof l[k] !== "boolean") throw new HushError("invalid_request", `limits.${k} must be a boolean`);
  }
  if (!Number.isSafeInteger(l.defaultTtlMs) || l.defaultTtlMs < 0 || l.defaultTtlMs > l.maxTtlMs) {
    throw new HushError("invalid_request", `limits.defaultTtlMs must be an integer from 0 to ${l.maxTtlMs}`);
  }
  if (l.defaultTtlMs > 0 && !l.ttlRequired) {
    // A default TTL makes every key expire; "not required" would mean keys may live for ever.
    throw new HushError("invalid_request", "limits.defaultTtlMs and ttlRequired: false contradict each other (a default TTL makes every key expire)");
  }
  return Object.freeze(l);
}

/** C0 controls, DEL and C1 controls: U+0000–U+001F, U+007F–U+009F. */
function _isControl(c: number): boolean {
  return c <= 0x1f || (c >= 0x7f && c <= 0x9f);
}

/**
 * Code points a name must not hold beyond ASCII: controls (Cc), format
 * characters (Cf: bidi overrides such as U+202E, zero-width characters, the
 * BOM, soft hyphen, tag characters), surrogates (Cs), private use (Co),
 * unassigned code points and noncharacters (Cn, as of the runtime's Unicode
 * version), line and paragraph separators (Zl, Zp), every other
 * Default_Ignorable_Code_Point (variation selectors, Hangul fillers, …), and
 * every space separator but U+0020 (Zs: no-break and ideographic spaces),
 * and the symbols that render as nothing without being any of these:
 * U+2800 BRAILLE PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD (the
 * Hangul fillers U+115F, U+1160, U+3164 and U+FFA0 are Default_Ignorable).
 * Such characters are invisible or look like others in listings and logs
 * (Unicode TR #36 §3, UTS #39 §3.1).
 */
const _UNSAFE_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800\u{1D159}]|(?! )\p{Zs}/u;

/**
 * Scan a string once: UTF-8 byte length and code-point count, or null when it
 * holds a control character, a lone surrogate (not encodable as UTF-8), or
 * any other character of `_UNSAFE_RE`. ASCII is checked inline; a string
 * with non-ASCII characters is checked once more against `_UNSAFE_RE`.
 * Callers bound `s.length` first, so the scan is short.
 */
function _measure(s: string): { bytes: number; chars: number } | null {
  let bytes = 0;
  let chars = 0;
  let ascii = true;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    chars++;
    if (c < 0x80) {
      if (_isControl(c)) return null;
      bytes += 1;
      continue;
    }
    ascii = false;
    if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return null;
      i++;
      bytes += 4;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return null;
    } else {
      bytes += 3;
    }
  }
  if (!ascii && _UNSAFE_RE.test(s)) return null;
  return { bytes, chars };
}

/**
 * Check a key, lock, pool or credential name (PROTOCOL.md §3 "Targets and
 * names"): 1..maxKeyBytes bytes of UTF-8, no control, format, invisible or
 * unassigned characters (`_UNSAFE_RE`), no space at either end (so no name
 * is blank, and `db/password ` cannot sit next to `db/password`), and in
 * Unicode NFC (so two names that render the same are the same bytes: `é`
 * is U+00E9, never `e` + U+0301). Empty, such a character, an edge space,
 * not NFC, a lone surrogate or a non-string -> `invalid_request`; too long
 * -> `too_large`.
 */
export function validateName(name: string, limits: Pick<StoreLimits, "maxKeyBytes">, what = "key"): void {
  const m = _checkChars(name, limits.maxKeyBytes, what);
  if (name.charCodeAt(0) === 0x20 || name.charCodeAt(name.length - 1) === 0x20) {
    throw new HushError("invalid_request", `${what} must not begin or end with a space`);
  }
  if (m.bytes !== m.chars && name.normalize("NFC") !== name) {
    throw new HushError("invalid_request", `${what} must be in Unicode normal form C (NFC): compose it first, e.g. with String.prototype.normalize("NFC")`);
  }
}

/** The character and length rule of a name (without the edge and NFC rules): its measure, or the error. */
function _checkChars(name: string, max: number, what: string): { bytes: number; chars: number } {
  if (typeof name !== "string") throw new HushError("invalid_request", `${what} must be a string`);
  if (name.length === 0) throw new HushError("invalid_request", `${what} must not be empty`);
  // Every UTF-16 unit encodes to at least one byte: a cheap early reject for huge inputs.
  if (name.length > max) throw new HushError("too_large", `${what} is longer than ${max} bytes`);
  const m = _measure(name);
  if (m === null) {
    throw new HushError("invalid_request", `${what} must be valid UTF-8 without control, format or invisible characters`);
  }
  if (m.bytes > max) throw new HushError("too_large", `${what} is longer than ${max} bytes`);
  return m;
}

/**
 * Check a list prefix: the character and length rule of a name, but it may
 * be empty, end in a space, or stop inside a sequence NFC would compose.
 * Control characters -> `invalid_request`; longer than maxKeyBytes -> `too_large`.
 */
export function validatePrefix(prefix: string, limits: StoreLimits): void {
  if (typeof prefix !== "string") throw new HushError("invalid_request", "prefix must be a string");
  if (prefix.length > 0) _checkChars(prefix, limits.maxKeyBytes, "prefix");
}

/** Check an optional holder string: 1..256 characters, no control, format or invisible characters. */
export function validateHolder(holder: string | undefined): void {
  if (holder === undefined) return;
  const m = typeof holder === "string" && holder.length > 0 && holder.length <= 2 * MAX_HOLDER_CHARS
    ? _measure(holder)
    : null;
  if (m === null || m.chars > MAX_HOLDER_CHARS) {
    throw new HushError(
      "invalid_request",
      `holder must be 1–${MAX_HOLDER_CHARS} characters without control, format or invisible characters`,
    );
  }
}

/** Why `ttl_ms: 0` is refused (PROTOCOL.md §8 "Expiry"): a computed 0 must never mean "for ever". */
export const ZERO_TTL = "ttl_ms 0 is refused (it never means \"no expiry\"); leave ttl_ms out to get the daemon's default";

/**
 * Check a TTL. `undefined` passes through (callers decide whether a TTL is
 * required); anything else must be a positive safe integer ≤ maxTtlMs.
 */
export function validateTtl(ttlMs: number | undefined, limits: StoreLimits): void {
  if (ttlMs === undefined) return;
  if (ttlMs === 0) throw new HushError("invalid_ttl", ZERO_TTL);
  if (typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > limits.maxTtlMs) {
    throw new HushError("invalid_ttl", `ttl_ms must be a positive integer ≤ ${limits.maxTtlMs}`);
  }
}

/** `ttl_required` for a missing TTL. */
export function requireTtl(ttlMs: number | undefined, what: string): asserts ttlMs is number {
  if (ttlMs === undefined) throw new HushError("ttl_required", `ttl_ms is required for ${what}`);
}

/** Check a fencing/lease token: a positive safe integer. */
export function validateToken(token: number): void {
  if (typeof token !== "number" || !Number.isSafeInteger(token) || token <= 0) {
    throw new HushError("invalid_request", "token must be a positive integer");
  }
}

/** Check a pool size: an integer 1..maxPoolSize. */
export function validatePoolSize(size: number, limits: StoreLimits): void {
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 || size > limits.maxPoolSize) {
    throw new HushError("invalid_request", `size must be an integer from 1 to ${limits.maxPoolSize}`);
  }
}

/**
 * Refusals by limit, for the `hush_limit_refusals_total{limit}` metric. Each
 * broker table keeps one; `refuse` counts and throws, so a limit is enforced
 * and counted in one place. The limit names are a fixed vocabulary.
 */
export class LimitTally {
  readonly counts = new Map<string, number>();

  /** Count a refusal under `limit` and throw `HushError(code, message)` (detail `{ limit, …detail }`). */
  refuse(limit: string, code: ErrorCode, message: string, detail: Record<string, unknown> = {}): never {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
    throw new HushError(code, message, { limit, ...detail });
  }
}

/** Check a positive-integer limit given in a config. */
export function checkLimit(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw new HushError("invalid_request", `${what} must be a positive integer`);
  return v;
}
