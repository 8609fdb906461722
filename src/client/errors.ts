/**
 * Turning an error answer into a typed HushError.
 * @module
 */
import { ERROR_CODES, HushError, type ErrorCode } from "../errors.ts";
import type { RawResponse } from "./transport.ts";

const CODES = new Set<string>(ERROR_CODES);

/** Wire names of the error details a client may act on (PROTOCOL.md §1 "Errors") → `HushError.detail` names. */
const DETAIL: Record<string, string> = { expires_at: "expiresAt", size: "size", one_per_holder: "onePerHolder" };

/** Wire field names in a daemon's message → the SDK's option names (`ttl_ms 0 is refused` → `ttlMs 0 is refused`). */
const OPTION_OF_FIELD: [RegExp, string][] = [
  [/\bttl_ms\b/g, "ttlMs"],
  [/\bif_absent\b/g, "ifAbsent"],
  [/\bone_per_holder\b/g, "onePerHolder"],
];

/** A daemon's message in the SDK's option names. */
function inOptionNames(message: string): string {
  for (const [re, name] of OPTION_OF_FIELD) message = message.replace(re, name);
  return message;
}

/**
 * Throw the typed error an error answer carries. `detail`: `status`; for
 * `rate_limited`, `retryAfter` (seconds, a number); and the answer's
 * `expires_at`, `size` and `one_per_holder` as `expiresAt`, `size`,
 * `onePerHolder`. The message names fields as the SDK's options do
 * (`ttlMs`, not `ttl_ms`).
 */
export function raiseFromResponse(res: RawResponse): never {
  let code: ErrorCode = "internal";
  let message = `unexpected HTTP ${res.status}`;
  const detail: Record<string, unknown> = { status: res.status };
  try {
    const b = JSON.parse(res.body);
    if (typeof b?.error === "string" && CODES.has(b.error)) code = b.error;
    if (typeof b?.message === "string") message = inOptionNames(b.message);
    for (const [wire, name] of Object.entries(DETAIL)) if (typeof b?.[wire] === "number" || typeof b?.[wire] === "boolean") detail[name] = b[wire];
  } catch {}
  const retryAfter = Number(res.header("retry-after"));
  if (res.header("retry-after") !== null && Number.isFinite(retryAfter) && retryAfter >= 0) detail.retryAfter = retryAfter;
  throw new HushError(code, message, detail);
}
