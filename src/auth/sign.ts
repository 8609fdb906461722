/**
 * Request and response signatures (PROTOCOL.md §3, §4).
 *
 *   string-to-sign = "HUSH1-HMAC-SHA256\n" METHOD "\n" target "\n" ts "\n" nonce "\n" hex(sha256(body))
 *   Signature      = HMAC-SHA256(mac key, string-to-sign)
 *   Hush-Signature = HMAC-SHA256(mac key, "HUSH1-RESPONSE\n" reqSig "\n" status "\n" hex(sha256(resBody)))
 * @module
 */
import { hmacSha256B64u, randomBytes, sha256Hex, toB64u } from "../crypto/index.ts";
import { SCHEME, formatAuthorization } from "./header.ts";

/** hex SHA-256 of the empty body, precomputed. */
export const EMPTY_BODY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export function hashBody(body: Uint8Array | string | undefined | null): string {
  if (body === undefined || body === null || body.length === 0) return EMPTY_BODY_HASH;
  return sha256Hex(body);
}

export function buildStringToSign(method: string, target: string, timestamp: number, nonce: string, bodyHash: string): string {
  return `${SCHEME}\n${method}\n${target}\n${timestamp}\n${nonce}\n${bodyHash}`;
}

/** b64u HMAC of the string-to-sign. */
export function computeSignature(macKey: Uint8Array, stringToSign: string): string {
  return hmacSha256B64u(macKey, stringToSign);
}

export interface SignedRequest {
  authorization: string;
  signature: string;
}

/** Sign a request; `now` and `nonce` are injectable for worked examples. */
export function signRequest(
  macKey: Uint8Array,
  keyId: string,
  req: { method: string; target: string; body?: Uint8Array | string | undefined },
  opts: { now?: number; nonce?: string } = {},
): SignedRequest {
  const timestamp = opts.now ?? Date.now();
  const nonce = opts.nonce ?? toB64u(randomBytes(16));
  const sts = buildStringToSign(req.method, req.target, timestamp, nonce, hashBody(req.body));
  const signature = computeSignature(macKey, sts);
  return { authorization: formatAuthorization({ keyId, timestamp, nonce, signature }), signature };
}

/** The `Hush-Signature` response header value. */
export function signResponse(macKey: Uint8Array, requestSignature: string, status: number, body: Uint8Array | string): string {
  return hmacSha256B64u(macKey, `HUSH1-RESPONSE\n${requestSignature}\n${status}\n${hashBody(body)}`);
}
