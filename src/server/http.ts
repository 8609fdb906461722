/**
 * HTTP mapping: protocol error codes → status, JSON responses, body parsing.
 * Only src/server knows HTTP (DESIGN.md).
 * @module
 */
import { HushError, type ErrorCode } from "../errors.ts";
import { ZERO_TTL } from "../broker/index.ts";

export const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  auth_failed: 401,
  rekey_required: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  ttl_required: 400,
  invalid_ttl: 400,
  max_items: 507,
  rate_limited: 429,
  busy: 503,
  unavailable: 503,
  internal: 500,
};

/**
 * The neutral answer, before signing: what every transport sends back
 * (src/server/pipeline.ts). An answer belongs to one request: the sign
 * stage adds its headers to `headers` in place.
 */
export interface Answer {
  status: number;
  /** The body text; the response signature covers these exact bytes (UTF-8). */
  body: string;
  /** Extra headers: `hush-signature`, `hush-rekey-after`, `retry-after`, a content type. */
  headers?: Record<string, string>;
  /**
   * How a transport sends it. Absent: a JSON answer (JSON content type,
   * `X-Request-Id`, `Cache-Control: no-store`). `text`: `headers` and
   * `X-Request-Id` only (`/metrics` on admin.sock). `stream`: `stream` with
   * `headers`, never signed (the audit stream, PROTOCOL.md §4).
   */
  kind?: "text" | "stream";
  stream?: ReadableStream<Uint8Array>;
  /** The request could not be framed (bad target, late or broken body): close the connection after answering. */
  close?: boolean;
}

export function ok(data: unknown, status = 200): Answer {
  return { status, body: JSON.stringify(data) };
}

export function fail(code: ErrorCode, message: string, corrId: string, headers?: Record<string, string>, extra?: Record<string, unknown>): Answer {
  return { status: STATUS[code], body: JSON.stringify({ error: code, message, corr_id: corrId, ...extra }), headers };
}

/**
 * The error details a client may act on, carried in the error body under
 * their wire names (PROTOCOL.md §1 "Errors"): when a held lock, claim or
 * full pool frees up (`expires_at`), a pool's size and one-per-holder
 * setting. Numbers and booleans only: never a value.
 */
const WIRE_DETAIL: Record<string, string> = { expiresAt: "expires_at", size: "size", onePerHolder: "one_per_holder" };

function wireDetail(detail: Record<string, unknown>): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const [name, wire] of Object.entries(WIRE_DETAIL)) {
    const v = detail[name];
    if (typeof v === "number" || typeof v === "boolean") (out ??= {})[wire] = v;
  }
  return out;
}

export function answerError(e: unknown, corrId: string): Answer {
  if (e instanceof HushError) {
    const h: Record<string, string> = {};
    if (e.code === "rate_limited") h["retry-after"] = String(e.detail.retryAfter ?? 1);
    // A shared backend in its quiet period says when to come back (docs/CLUSTER.md §7).
    else if (e.code === "unavailable" && typeof e.detail.retryAfter === "number") h["retry-after"] = String(e.detail.retryAfter);
    return fail(e.code, e.message, corrId, h, wireDetail(e.detail));
  }
  return fail("internal", "internal error", corrId);
}

const MAX_DEPTH = 32;

/** Parse a JSON object body; `{}` for an empty body. */
export function parseObject(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HushError("invalid_request", "body is not valid UTF-8");
  }
  if (nestingDepth(text) > MAX_DEPTH) throw new HushError("invalid_request", `JSON nested deeper than ${MAX_DEPTH} levels`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HushError("invalid_request", "body is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new HushError("invalid_request", "body must be a JSON object");
  return v as Record<string, unknown>;
}

/** Upper bound on bracket nesting, ignoring brackets inside strings. */
function nestingDepth(text: string): number {
  let d = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
    } else if (c === 34) inStr = true;
    else if (c === 123 || c === 91) {
      if (++d > max) max = d;
    } else if (c === 125 || c === 93) d--;
  }
  return max;
}

/** Field readers that name the field in their errors. */
export function optInt(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new HushError("invalid_request", `${field} must be an integer`);
  return v;
}

export function reqInt(body: Record<string, unknown>, field: string): number {
  const v = optInt(body, field);
  if (v === undefined) throw new HushError("invalid_request", `${field} is required`);
  return v;
}

export function optTtl(body: Record<string, unknown>): number | undefined {
  const v = body.ttl_ms;
  if (v === undefined || v === null) return undefined;
  if (v === 0) throw new HushError("invalid_ttl", ZERO_TTL);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) throw new HushError("invalid_ttl", "ttl_ms must be a positive integer");
  return v;
}

export function optBool(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new HushError("invalid_request", `${field} must be true or false`);
  return v;
}

export function optString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new HushError("invalid_request", `${field} must be a string`);
  return v;
}

/** Decode one percent-encoded path segment. */
export function decodeSegment(s: string, what: string): string {
  // Nothing to decode without a "%" (decodeURIComponent would return the same string).
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HushError("invalid_request", `${what}: bad percent-encoding`);
  }
}
