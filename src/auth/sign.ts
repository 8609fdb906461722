/**
 * Request and response signatures (PROTOCOL.md §3, §4).
 *
 *   string-to-sign = "HUSH1-HMAC-SHA256\n" METHOD "\n" target "\n" ts "\n" nonce "\n" hex(sha256(body))
 *   Signature      = HMAC-SHA256(mac key, string-to-sign)
 *   Hush-Signature = HMAC-SHA256(mac key, "HUSH1-RESPONSE\n" reqSig "\n" status "\n" hex(sha256(resBody)))
 * @module
 */
import { macState, randomB64u, sha256Hex, type KeyedHmac } from "../crypto/index.ts";
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

/** b64u HMAC of the string-to-sign (with the key's keyed state, src/crypto/mac.ts). */
export function computeSignature(macKey: Uint8Array, stringToSign: string): string {
  return macState(macKey).b64u(stringToSign);
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
  const nonce = opts.nonce ?? randomB64u(16);
  const sts = buildStringToSign(req.method, req.target, timestamp, nonce, hashBody(req.body));
  const signature = computeSignature(macKey, sts);
  return { authorization: formatAuthorization({ keyId, timestamp, nonce, signature }), signature };
}

/** The string the `Hush-Signature` of an answer signs (§4); `bodyHash` = `hashBody(body)`. */
export function responseToSign(requestSignature: string, status: number, bodyHash: string): string {
  return `HUSH1-RESPONSE\n${requestSignature}\n${status}\n${bodyHash}`;
}

/**
 * The `Hush-Signature` response header value. `body` may be the answer's
 * bytes or its text: the hash is over the UTF-8 bytes either way; a caller
 * that already hashed the bytes it received passes `bodyHash` (hex SHA-256).
 */
export function signResponse(macKey: Uint8Array, requestSignature: string, status: number, body: Uint8Array | string, bodyHash = hashBody(body)): string {
  return macState(macKey).b64u(responseToSign(requestSignature, status, bodyHash));
}

/** The `Hush-Signature` with an HMAC keyed earlier (`MacState.fork`, taken when the request verified); uses it up. */
export function signResponseWith(mac: KeyedHmac, requestSignature: string, status: number, body: Uint8Array | string): string {
  return mac.update(responseToSign(requestSignature, status, hashBody(body))).digest("base64url");
}
