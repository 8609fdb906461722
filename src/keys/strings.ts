/**
 * Key and token strings (PROTOCOL.md §2): bech32 (BIP-173 checksum, no
 * 90-character limit), upper case for secrets, lower case for public values.
 *
 * Parse errors never echo the input: a mistyped secret must not end up in a
 * log line or a terminal scrollback through an error message.
 * @module
 */
import { bech32 } from "@scure/base";
import { HushError } from "../errors.ts";
import { concatBytes, fromB64u, fromUtf8, toB64u, utf8 } from "../crypto/index.ts";

export const HRP = {
  serverPublic: "hushpub",
  serverSecret: "HUSH-SERVER-KEY-",
  join: "HUSH-JOIN-",
  worker: "HUSH-WORKER-",
  admin: "HUSH-ADMIN-",
  auditPublic: "hushaudit",
  auditSecret: "HUSH-AUDIT-KEY-",
  /** The audit verification key (format 2): the seed of the sealing chain, kept off the daemon's host. */
  auditVerify: "HUSH-AUDIT-VERIFY-",
  /** The daemon's audit sealing state (format 2): epoch, key id and the current state of the chain. */
  auditState: "HUSH-AUDIT-STATE-",
  /** The cluster key: seals what several daemons keep in Redis (docs/CLUSTER.md §4). */
  clusterKey: "HUSH-CLUSTER-KEY-",
} as const;

/** True when the hrp names a secret (and the string is therefore upper case). */
function isSecretHrp(hrp: string): boolean {
  return hrp !== hrp.toLowerCase();
}

/** Encode `bytes` under `hrp`; secrets come out upper case. */
export function encodeKeyString(hrp: string, bytes: Uint8Array): string {
  const s = bech32.encode(hrp, bech32.toWords(bytes), false);
  return isSecretHrp(hrp) ? s.toUpperCase() : s;
}

/**
 * Decode a key string and check its hrp. `what` names the string in errors,
 * e.g. "worker credential". Surrounding whitespace is ignored.
 */
export function decodeKeyString(hrp: string, input: string, what: string): Uint8Array {
  const s = input.trim();
  const expectUpper = isSecretHrp(hrp);
  // The prefix first: a file name or some other string is "not a …", not "wrong letter case".
  if (!s.toLowerCase().startsWith(hrp.toLowerCase() + "1")) {
    throw new HushError("invalid_request", `${what}: not a ${hrp}1… string`);
  }
  if (expectUpper ? s !== s.toUpperCase() : s !== s.toLowerCase()) {
    throw new HushError("invalid_request", `${what}: wrong letter case (expected ${expectUpper ? "upper" : "lower"} case)`);
  }
  let prefix: string;
  let words: number[];
  try {
    ({ prefix, words } = bech32.decode(s as `${string}1${string}`, false));
  } catch {
    throw new HushError("invalid_request", `${what}: not a valid key string (bad characters or checksum)`);
  }
  if (prefix !== hrp.toLowerCase()) {
    throw new HushError("invalid_request", `${what}: expected a string starting with ${hrp}1…`);
  }
  try {
    return bech32.fromWords(words);
  } catch {
    throw new HushError("invalid_request", `${what}: malformed payload`);
  }
}

// ---- ids -------------------------------------------------------------------

const KEY_ID_RE = /^[wa]_[A-Za-z0-9_-]{16}$/;
const TOKEN_ID_RE = /^t_[A-Za-z0-9_-]{12}$/;

/** Key id: `w_`/`a_` + b64u(12 random bytes), 18 ASCII chars. */
export function formatKeyId(kind: "worker" | "admin", random12: Uint8Array): string {
  if (random12.length !== 12) throw new TypeError("key id needs 12 bytes");
  return (kind === "worker" ? "w_" : "a_") + toB64u(random12);
}

export function isKeyId(s: string): boolean {
  return KEY_ID_RE.test(s);
}

/** Token id text form: `t_` + b64u(9 bytes), 14 chars. */
export function formatTokenId(raw9: Uint8Array): string {
  if (raw9.length !== 9) throw new TypeError("token id needs 9 bytes");
  return "t_" + toB64u(raw9);
}

export function isTokenId(s: string): boolean {
  return TOKEN_ID_RE.test(s);
}

export function parseTokenIdBytes(id: string): Uint8Array {
  if (!isTokenId(id)) throw new HushError("invalid_request", "token id must look like t_XXXXXXXXXXXX");
  return fromB64u(id.slice(2));
}

// ---- credentials (worker / admin) -----------------------------------------

export interface Credential {
  kind: "worker" | "admin";
  keyId: string;
  macKey: Uint8Array;
  encKey: Uint8Array;
  serverPublic: Uint8Array;
  /** SHA-256 of the TLS server's SubjectPublicKeyInfo, when minted by a TLS server. */
  tlsPin?: Uint8Array | undefined;
}

/** key id (18, ASCII) ‖ mac key (32) ‖ enc key (32) ‖ server public (32) ‖ optional TLS pin (32). */
export function encodeCredential(c: Credential): string {
  const id = utf8(c.keyId);
  if (id.length !== 18 || !isKeyId(c.keyId)) throw new TypeError("bad key id");
  for (const [n, b] of [["mac key", c.macKey], ["enc key", c.encKey], ["server public key", c.serverPublic]] as const) {
    if (b.length !== 32) throw new TypeError(`${n} must be 32 bytes`);
  }
  const parts = [id, c.macKey, c.encKey, c.serverPublic];
  if (c.tlsPin) parts.push(c.tlsPin);
  const raw = concatBytes(...parts);
  try {
    return encodeKeyString(c.kind === "worker" ? HRP.worker : HRP.admin, raw);
  } finally {
    raw.fill(0);
  }
}

/** Parse a `HUSH-WORKER-1…` or `HUSH-ADMIN-1…` string. */
export function decodeCredential(input: string): Credential {
  const s = input.trim();
  const kind = s.toUpperCase().startsWith(HRP.admin + "1") ? "admin" : "worker";
  const what = kind === "admin" ? "admin credential" : "worker credential";
  const raw = decodeKeyString(kind === "admin" ? HRP.admin : HRP.worker, s, what);
  try {
    if (raw.length !== 114 && raw.length !== 146) {
      throw new HushError("invalid_request", `${what}: wrong length`);
    }
    let keyId: string;
    try {
      keyId = fromUtf8(raw.subarray(0, 18));
    } catch {
      throw new HushError("invalid_request", `${what}: malformed key id`);
    }
    if (!isKeyId(keyId) || keyId[0] !== (kind === "admin" ? "a" : "w")) {
      throw new HushError("invalid_request", `${what}: malformed key id`);
    }
    return {
      kind,
      keyId,
      macKey: raw.slice(18, 50),
      encKey: raw.slice(50, 82),
      serverPublic: raw.slice(82, 114),
      tlsPin: raw.length === 146 ? raw.slice(114, 146) : undefined,
    };
  } finally {
    raw.fill(0);
  }
}

// ---- server keys -------------------------------------------------------------

export function encodeServerPublic(pub: Uint8Array): string {
  return encodeKeyString(HRP.serverPublic, pub);
}

export function decodeServerPublic(s: string): Uint8Array {
  const b = decodeKeyString(HRP.serverPublic, s, "server public key");
  if (b.length !== 32) throw new HushError("invalid_request", "server public key: wrong length");
  return b;
}

export function encodeServerSecret(secret: Uint8Array): string {
  return encodeKeyString(HRP.serverSecret, secret);
}

export function decodeServerSecret(s: string): Uint8Array {
  const b = decodeKeyString(HRP.serverSecret, s, "server secret key");
  if (b.length !== 32) throw new HushError("invalid_request", "server secret key: wrong length");
  return b;
}

// ---- cluster key ---------------------------------------------------------------

/** `HUSH-CLUSTER-KEY-1…`: 32 random bytes shared by the daemons of one cluster. */
export function encodeClusterKey(key: Uint8Array): string {
  if (key.length !== 32) throw new TypeError("cluster key must be 32 bytes");
  return encodeKeyString(HRP.clusterKey, key);
}

export function decodeClusterKey(s: string): Uint8Array {
  const b = decodeKeyString(HRP.clusterKey, s, "cluster key");
  if (b.length !== 32) throw new HushError("invalid_request", "cluster key: wrong length");
  return b;
}

// ---- join tokens -------------------------------------------------------------

export interface JoinToken {
  tokenId: string;
  psk: Uint8Array;
  serverPublic: Uint8Array;
  tlsPin?: Uint8Array | undefined;
}

/** token id (9) ‖ psk (32) ‖ server public (32) ‖ optional TLS SPKI SHA-256 (32). */
export function encodeJoinToken(t: JoinToken): string {
  const id = parseTokenIdBytes(t.tokenId);
  if (t.psk.length !== 32 || t.serverPublic.length !== 32) throw new TypeError("psk and server public key must be 32 bytes");
  const parts = [id, t.psk, t.serverPublic];
  if (t.tlsPin) parts.push(t.tlsPin);
  const raw = concatBytes(...parts);
  try {
    return encodeKeyString(HRP.join, raw);
  } finally {
    raw.fill(0);
  }
}

export function decodeJoinToken(input: string): JoinToken {
  const raw = decodeKeyString(HRP.join, input, "join token");
  try {
    if (raw.length !== 73 && raw.length !== 105) throw new HushError("invalid_request", "join token: wrong length");
    return {
      tokenId: formatTokenId(raw.slice(0, 9)),
      psk: raw.slice(9, 41),
      serverPublic: raw.slice(41, 73),
      tlsPin: raw.length === 105 ? raw.slice(73, 105) : undefined,
    };
  } finally {
    raw.fill(0);
  }
}
