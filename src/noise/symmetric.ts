/**
 * Noise Protocol Framework (revision 34) building blocks for
 * `Noise_NKpsk0_25519_ChaChaPoly_SHA256`: the Noise HKDF (§4.3), the
 * CipherState (§5.1) and the SymmetricState (§5.2), with the ChaChaPoly
 * cipher functions (§12.3) and SHA256 hash functions (§12.4).
 *
 * Pure: no I/O, no clock. All primitives come from `src/crypto`.
 * Secrets held here (cipher keys, chaining key) are zero-filled by `wipe()`.
 * @module
 */
import { concatBytes, hmacSha256, openChaCha, sealChaCha, sha256, utf8, wipe } from "../crypto/index.ts";
import { HushError } from "../errors.ts";

/** HASHLEN for SHA256 (Noise §12.4). */
export const HASHLEN = 32;
/** Cipher key length (Noise §4.2). */
export const KEYLEN = 32;
/** AEAD tag length of ChaChaPoly (Noise §4.2, RFC 8439). */
export const TAGLEN = 16;
/** Maximum length of any Noise message, handshake or transport (Noise §3). */
export const MAX_MESSAGE_LEN = 65535;

/**
 * Largest usable nonce. Noise §5.1 reserves 2^64-1 and forbids reuse; this
 * implementation counts in a JS number and stops at 2^53-1, which is stricter
 * and can never be reached in practice.
 */
const MAX_NONCE = Number.MAX_SAFE_INTEGER;

/** A CipherState after Split() (Noise §5.2): transport encryption in one direction. */
export interface CipherState {
  /** EncryptWithAd (Noise §5.1); returns ciphertext ‖ 16-byte tag. */
  encrypt(ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** DecryptWithAd (Noise §5.1); throws `auth_failed` on a bad tag. */
  decrypt(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
  /** A copy of the 32-byte cipher key k; the caller owns (and should wipe) the copy. */
  readonly key: Uint8Array;
  /** Zero-fill the key; every later call throws. */
  wipe(): void;
}

/**
 * Noise HKDF (§4.3): HMAC-SHA256 based, with `chainingKey` as the HMAC key.
 * Returns 2 or 3 outputs of HASHLEN bytes. The intermediate temp_key is wiped.
 */
export function deriveHkdf(chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2): [Uint8Array, Uint8Array];
export function deriveHkdf(chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 3): [Uint8Array, Uint8Array, Uint8Array];
export function deriveHkdf(chainingKey: Uint8Array, ikm: Uint8Array, numOutputs: 2 | 3): Uint8Array[] {
  const tempKey = hmacSha256(chainingKey, ikm);
  const out1 = hmacSha256(tempKey, Uint8Array.of(0x01));
  const in2 = concatBytes(out1, Uint8Array.of(0x02));
  const out2 = hmacSha256(tempKey, in2);
  wipe(in2);
  if (numOutputs === 2) {
    wipe(tempKey);
    return [out1, out2];
  }
  const in3 = concatBytes(out2, Uint8Array.of(0x03));
  const out3 = hmacSha256(tempKey, in3);
  wipe(tempKey, in3);
  return [out1, out2, out3];
}

/** ChaChaPoly nonce (Noise §12.3): 32 bits of zeros, then the 64-bit counter little-endian. */
function encodeNonce(n: number): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, n >>> 0, true);
  view.setUint32(8, Math.floor(n / 0x1_0000_0000), true);
  return nonce;
}

/**
 * CipherState (Noise §5.1): key k (or empty) and nonce n. While k is empty,
 * EncryptWithAd/DecryptWithAd pass data through unchanged, as the spec says;
 * after `wipe()` every call throws instead, so a wiped state never leaks plaintext.
 */
export class NoiseCipherState implements CipherState {
  #k: Uint8Array | null = null;
  #n = 0;
  #wiped = false;

  /** InitializeKey(key) (Noise §5.1): sets k (copied) and n = 0. */
  initializeKey(key: Uint8Array): void {
    this.#assertUsable();
    if (key.length !== KEYLEN) throw new HushError("internal", `noise: cipher key must be ${KEYLEN} bytes`);
    wipe(this.#k);
    this.#k = key.slice();
    this.#n = 0;
  }

  /** HasKey() (Noise §5.1). */
  hasKey(): boolean {
    return this.#k !== null;
  }

  /** EncryptWithAd(ad, plaintext) (Noise §5.1). */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    this.#assertUsable();
    if (this.#k === null) return plaintext.slice();
    if (plaintext.length + TAGLEN > MAX_MESSAGE_LEN) {
      throw new HushError("too_large", `noise: message exceeds ${MAX_MESSAGE_LEN} bytes`);
    }
    const ct = sealChaCha(this.#k, this.#nextNonce(), plaintext, ad);
    this.#n++;
    return ct;
  }

  /** DecryptWithAd(ad, ciphertext) (Noise §5.1); n advances only on success. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    this.#assertUsable();
    if (this.#k === null) return ciphertext.slice();
    if (ciphertext.length < TAGLEN || ciphertext.length > MAX_MESSAGE_LEN) {
      throw new HushError("auth_failed", "noise: bad ciphertext length");
    }
    let pt: Uint8Array;
    try {
      pt = openChaCha(this.#k, this.#nextNonce(), ciphertext, ad);
    } catch {
      throw new HushError("auth_failed", "noise: decryption failed");
    }
    this.#n++;
    return pt;
  }

  encrypt(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === null) throw new HushError("internal", "noise: cipher state has no key");
    return this.encryptWithAd(ad, plaintext);
  }

  decrypt(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === null) throw new HushError("internal", "noise: cipher state has no key");
    return this.decryptWithAd(ad, ciphertext);
  }

  get key(): Uint8Array {
    this.#assertUsable();
    if (this.#k === null) throw new HushError("internal", "noise: cipher state has no key");
    return this.#k.slice();
  }

  wipe(): void {
    wipe(this.#k);
    this.#k = null;
    this.#wiped = true;
  }

  #nextNonce(): Uint8Array {
    if (this.#n >= MAX_NONCE) throw new HushError("internal", "noise: nonce exhausted, rekey required");
    return encodeNonce(this.#n);
  }

  #assertUsable(): void {
    if (this.#wiped) throw new HushError("internal", "noise: cipher state was wiped");
  }
}

/**
 * SymmetricState (Noise §5.2): chaining key ck, handshake hash h and a
 * CipherState. Method names follow the spec.
 */
export class SymmetricState {
  #ck: Uint8Array;
  #h: Uint8Array;
  readonly #cs = new NoiseCipherState();

  /** InitializeSymmetric(protocol_name) (Noise §5.2). */
  constructor(protocolName: string) {
    const name = utf8(protocolName);
    // If the name is at most HASHLEN bytes, pad it with zeros; else hash it.
    if (name.length <= HASHLEN) {
      this.#h = new Uint8Array(HASHLEN);
      this.#h.set(name);
    } else {
      this.#h = sha256(name);
    }
    this.#ck = this.#h.slice();
  }

  /** MixKey(input_key_material) (Noise §5.2). */
  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = deriveHkdf(this.#ck, ikm, 2);
    wipe(this.#ck);
    this.#ck = ck;
    this.#cs.initializeKey(tempK); // HASHLEN = 32 = KEYLEN, no truncation needed.
    wipe(tempK);
  }

  /** MixHash(data) (Noise §5.2): h = HASH(h ‖ data). */
  mixHash(data: Uint8Array): void {
    const buf = concatBytes(this.#h, data);
    this.#h = sha256(buf);
    wipe(buf);
  }

  /** MixKeyAndHash(input_key_material) (Noise §5.2), used for psk tokens. */
  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = deriveHkdf(this.#ck, ikm, 3);
    wipe(this.#ck);
    this.#ck = ck;
    this.mixHash(tempH);
    this.#cs.initializeKey(tempK);
    wipe(tempH, tempK);
  }

  /** GetHandshakeHash() (Noise §5.2): a copy of h. */
  getHandshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /** EncryptAndHash(plaintext) (Noise §5.2): encrypt with ad = h, then MixHash(ciphertext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ct = this.#cs.encryptWithAd(this.#h, plaintext);
    this.mixHash(ct);
    return ct;
  }

  /** DecryptAndHash(ciphertext) (Noise §5.2): decrypt with ad = h, then MixHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const pt = this.#cs.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return pt;
  }

  /** Split() (Noise §5.2): two CipherStates, c1 for initiator→responder, c2 for responder→initiator. */
  split(): [NoiseCipherState, NoiseCipherState] {
    const [k1, k2] = deriveHkdf(this.#ck, new Uint8Array(0), 2);
    const c1 = new NoiseCipherState();
    const c2 = new NoiseCipherState();
    c1.initializeKey(k1);
    c2.initializeKey(k2);
    wipe(k1, k2);
    return [c1, c2];
  }

  /** Zero-fill ck, h and the handshake CipherState (call once the handshake is done or abandoned). */
  wipe(): void {
    wipe(this.#ck, this.#h);
    this.#cs.wipe();
  }
}
