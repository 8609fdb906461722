/**
 * The one error class of hush. Every layer throws `HushError` with a stable
 * protocol code (PROTOCOL.md §1); only src/server maps codes to HTTP status.
 * `message` is for humans and must never contain secret material.
 * @module
 */

export const ERROR_CODES = [
  "invalid_request",
  "auth_failed",
  "rekey_required",
  "forbidden",
  "not_found",
  "conflict",
  "too_large",
  "ttl_required",
  "invalid_ttl",
  "max_items",
  "rate_limited",
  "busy",
  "unavailable",
  "internal",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class HushError extends Error {
  override readonly name = "HushError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable detail (never secret), e.g. `retryAfter` seconds. */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** `rate_limited`: whole seconds to wait before trying again (the answer's Retry-After), when known. */
  get retryAfter(): number | undefined {
    const v = this.detail.retryAfter;
    return typeof v === "number" ? v : undefined;
  }

  /** `conflict` on a held lock, claim or full pool: when the holder's hold ends (Unix ms, the daemon's clock), when known. */
  get expiresAt(): number | undefined {
    const v = this.detail.expiresAt;
    return typeof v === "number" ? v : undefined;
  }
}

/**
 * Type guard for HushError. Also true for a HushError from another copy of
 * the SDK in the same process (the npm package's ESM and CommonJS builds
 * each define the class), where `instanceof` is false.
 */
export function isHushError(e: unknown): e is HushError {
  return e instanceof HushError || (e instanceof Error && e.name === "HushError" && (ERROR_CODES as readonly unknown[]).includes((e as { code?: unknown }).code));
}
