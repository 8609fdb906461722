/**
 * The `Authorization: HUSH1-HMAC-SHA256 …` header (PROTOCOL.md §3).
 * Parsing is strict: exactly four parameters, in order, `, ` separated.
 * @module
 */

export const SCHEME = "HUSH1-HMAC-SHA256";

export interface AuthParams {
  keyId: string;
  timestamp: number;
  /** b64u of 16 bytes (22 chars). */
  nonce: string;
  /** b64u of 32 bytes (43 chars), exactly as sent. */
  signature: string;
}

// key id: w_/a_ + 16 b64u chars; nonce: 16 bytes = 22 b64u chars (last char
// carries 2 bits, so only A, Q, g, w are canonical); signature: 32 bytes =
// 43 chars (last char carries 4 bits: AEIMQUYcgkosw048).
const HEADER_RE =
  /^HUSH1-HMAC-SHA256 Credential=([wa]_[A-Za-z0-9_-]{16}), Timestamp=(0|[1-9][0-9]{0,15}), Nonce=([A-Za-z0-9_-]{21}[AQgw]), Signature=([A-Za-z0-9_-]{42}[AEIMQUYcgkosw048])$/;

/** Parse the header; `null` when malformed in any way. */
export function parseAuthorization(header: string | null): AuthParams | null {
  if (!header || header.length > 200) return null;
  const m = HEADER_RE.exec(header);
  if (!m) return null;
  const timestamp = Number(m[2]);
  if (!Number.isSafeInteger(timestamp)) return null;
  return { keyId: m[1]!, timestamp, nonce: m[3]!, signature: m[4]! };
}

export function formatAuthorization(p: AuthParams): string {
  return `${SCHEME} Credential=${p.keyId}, Timestamp=${p.timestamp}, Nonce=${p.nonce}, Signature=${p.signature}`;
}
