/**
 * Compressed request bodies (PROTOCOL.md §1, "Compressed bodies"): a
 * request may carry `Content-Encoding: gzip` or `zstd` (HTTP header, or the
 * same line in a WebSocket request frame). The signature covers the bytes
 * as sent (compressed), so the daemon inflates only after the request has
 * been authenticated and passed the per-key rate limit: a caller without a
 * key never makes it inflate anything.
 *
 * Inflation is incremental and stops at the first byte past the cap
 * (node:zlib `maxOutputLength`, native in Bun: a bomb costs the work up to
 * the cap, not its full size). The cap is the smaller of
 *
 * - the ratio cap: `--max-inflate-ratio` (default and most 10) × the
 *   compressed size (refused `too_large`, `hush_rejected_total{reason="ratio_cap"}`), and
 * - the absolute cap: the body cap `--max-body`, which an inflated body obeys
 *   like any other (`too_large`, `{reason="decompress_cap"}`).
 *
 * Limits past that (the value limit, JSON depth) apply to the inflated body,
 * as the handlers see nothing else. Unknown encodings and corrupt data are
 * `invalid_request` (`{reason="encoding"}`, `{reason="decompress_error"}`).
 * The compressed bytes are zero-filled once inflated; zlib's own working
 * buffers are not reachable to wipe (like any parser's copies).
 * @module
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { wipe } from "../crypto/index.ts";
import { fail } from "./http.ts";
import type { Ctx, Next, Stage } from "./pipeline.ts";

/** The encodings the daemon inflates (`identity` = none). */
export type Encoding = "identity" | "gzip" | "zstd";

/** The default and highest ratio cap (hardening template: ≤ 10×). */
export const MAX_INFLATE_RATIO = 10;

/** A `Content-Encoding` value as an Encoding; null when it is not one the daemon takes (one coding only, no lists). */
export function parseEncoding(v: string | null | undefined): Encoding | null {
  if (v === null || v === undefined) return "identity";
  const e = v.trim().toLowerCase();
  if (e === "" || e === "identity") return "identity";
  if (e === "gzip" || e === "x-gzip") return "gzip";
  if (e === "zstd") return "zstd";
  return null;
}

export type InflateResult = Uint8Array | "ratio_cap" | "decompress_cap" | "corrupt";

/**
 * Inflate `body` to at most min(`maxRatio` × body.length, `maxBytes`)
 * bytes; past that, which cap it passed. Never throws.
 */
export function inflateBody(body: Uint8Array, enc: "gzip" | "zstd", maxBytes: number, maxRatio: number): InflateResult {
  const byRatio = body.length * maxRatio;
  const cap = Math.min(byRatio, maxBytes);
  try {
    const out = (enc === "gzip" ? gunzipSync : zstdDecompressSync)(body, { maxOutputLength: Math.max(1, cap) });
    return out.length > cap ? (byRatio < maxBytes ? "ratio_cap" : "decompress_cap") : new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (e: any) {
    if (e?.code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) return byRatio < maxBytes ? "ratio_cap" : "decompress_cap";
    return "corrupt";
  }
}

/**
 * The stage (after `rate` on hush.sock and TCP, first on admin.sock): a body
 * with a Content-Encoding becomes the inflated body, or the request is
 * refused. `bodyStage` has already refused encodings the daemon does not take.
 */
export function inflate(): Stage {
  return function inflate(c: Ctx, next: Next) {
    const enc = parseEncoding(c.req.contentEncoding);
    if (enc === "identity" || enc === null || c.body.length === 0) return next(c);
    const { st, m } = c;
    const r = inflateBody(c.body, enc, st.config.limits.maxBodyBytes, st.config.maxInflateRatio);
    if (typeof r === "string") {
      m.rejected.inc({ reason: r === "corrupt" ? "decompress_error" : r });
      c.answer =
        r === "corrupt"
          ? fail("invalid_request", `the ${enc} body does not inflate`, c.corrId)
          : r === "ratio_cap"
            ? fail("too_large", `the ${enc} body inflates past ${st.config.maxInflateRatio}× its size (send it uncompressed)`, c.corrId)
            : fail("too_large", `the ${enc} body inflates past ${st.config.limits.maxBodyBytes} bytes`, c.corrId);
      return;
    }
    wipe(c.body);
    c.body = r;
    return next(c);
  };
}
