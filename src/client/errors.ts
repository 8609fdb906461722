/**
 * Turning an error answer into a typed HushError.
 * @module
 */
import { ERROR_CODES, HushError, type ErrorCode } from "../errors.ts";
import type { RawResponse } from "./transport.ts";

const CODES = new Set<string>(ERROR_CODES);

/** Throw the typed error an error answer carries. */
export function raiseFromResponse(res: RawResponse): never {
  let code: ErrorCode = "internal";
  let message = `unexpected HTTP ${res.status}`;
  try {
    const b = JSON.parse(res.body);
    if (typeof b?.error === "string" && CODES.has(b.error)) code = b.error;
    if (typeof b?.message === "string") message = b.message;
  } catch {}
  throw new HushError(code, message, { status: res.status, retryAfter: res.header("retry-after") ?? undefined });
}
