/**
 * `Noise_NKpsk0_25519_ChaChaPoly_SHA256` (Noise Protocol Framework rev 34) as
 * two one-shot state machines: the initiator (worker) and the responder
 * (server). PROTOCOL.md §5–6 use it for join and rekey.
 *
 * The pattern (Noise §7.5 NK, with the psk0 modifier of §9.2):
 *
 * ```
 * NKpsk0:
 *   <- s
 *   ...
 *   -> psk, e, es
 *   <- e, ee
 * ```
 *
 * Any failure while reading a message (bad length, low-order key, failed
 * decryption) throws `HushError("auth_failed")` with a message that holds no
 * key material, and makes the state machine unusable (Noise §5.3: a failed
 * handshake is abandoned). Calling a method out of order throws
 * `HushError("internal")`: that is a caller bug, not a peer's fault.
 *
 * Pure: no I/O, no clock. DH and randomness come from `src/crypto`.
 * @module
 */
import { concatBytes, generateX25519, wipe, x25519 } from "../crypto/index.ts";
import { HushError } from "../errors.ts";
import { MAX_MESSAGE_LEN, SymmetricState, TAGLEN } from "./symmetric.ts";
import type { CipherState } from "./symmetric.ts";

export const PROTOCOL_NAME = "Noise_NKpsk0_25519_ChaChaPoly_SHA256";

/** DHLEN for Curve25519 (Noise §12.1). */
const DHLEN = 32;
/** PSK length (Noise §9.2). */
const PSKLEN = 32;
/** Each NKpsk0 handshake message is e (32 bytes) ‖ encrypted payload (payload + 16-byte tag). */
const MIN_MESSAGE_LEN = DHLEN + TAGLEN;

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface HandshakeResult {
  /** Initiator → responder CipherState (PROTOCOL.md §5: its key is the mac key). */
  c1: CipherState;
  /** Responder → initiator CipherState (PROTOCOL.md §5: its key is the enc key). */
  c2: CipherState;
  /** GetHandshakeHash() after the last message (Noise §5.2, §11.2 channel binding). */
  handshakeHash: Uint8Array;
}

export interface Initiator {
  writeMessage1(payload: Uint8Array): Uint8Array;
  readMessage2(message: Uint8Array): { payload: Uint8Array } & HandshakeResult;
}

export interface Responder {
  readMessage1(message: Uint8Array): { payload: Uint8Array; remoteEphemeral: Uint8Array };
  writeMessage2(payload: Uint8Array): { message: Uint8Array } & HandshakeResult;
}

/**
 * The initiator (worker). `remoteStatic` is the server public key from the
 * token; `ephemeral` is only for test vectors and is generated when absent.
 */
export function createInitiator(opts: {
  remoteStatic: Uint8Array;
  psk: Uint8Array;
  prologue: Uint8Array;
  ephemeral?: KeyPair;
}): Initiator {
  checkLength("remoteStatic", opts.remoteStatic, DHLEN);
  checkLength("psk", opts.psk, PSKLEN);
  checkPrologue(opts.prologue);
  if (opts.ephemeral) checkKeyPair("ephemeral", opts.ephemeral);
  const rs = opts.remoteStatic.slice();
  let psk: Uint8Array | null = opts.psk.slice();
  let e: KeyPair | null = null;
  const ss = initializeHandshake(opts.prologue, rs);
  let step: "write1" | "read2" | "done" | "failed" = "write1";

  function abandon(): void {
    step = "failed";
    ss.wipe();
    wipe(psk, e?.secretKey);
    psk = null;
    e = null;
  }

  return {
    writeMessage1(payload) {
      if (step !== "write1") throw outOfOrder("writeMessage1", step);
      checkPayloadLength(payload);
      try {
        // -> psk: MixKeyAndHash(psk) (Noise §9.2).
        ss.mixKeyAndHash(psk!);
        wipe(psk);
        psk = null;
        // -> e: generate e, MixHash(e.pub); with a psk, also MixKey(e.pub) (Noise §9.2).
        e = opts.ephemeral ? copyKeyPair(opts.ephemeral) : generateX25519();
        ss.mixHash(e.publicKey);
        ss.mixKey(e.publicKey);
        // -> es: MixKey(DH(e, rs)) (Noise §5.3).
        mixDh(ss, e.secretKey, rs);
        const message = concatBytes(e.publicKey, ss.encryptAndHash(payload));
        step = "read2";
        return message;
      } catch (err) {
        abandon();
        throw err;
      }
    },

    readMessage2(message) {
      if (step !== "read2") throw outOfOrder("readMessage2", step);
      try {
        checkMessageLength(message);
        // <- e: re = the first DHLEN bytes, MixHash(re), MixKey(re) (psk mode, Noise §9.2).
        const re = message.slice(0, DHLEN);
        ss.mixHash(re);
        ss.mixKey(re);
        // <- ee: MixKey(DH(e, re)).
        mixDh(ss, e!.secretKey, re);
        const payload = ss.decryptAndHash(message.subarray(DHLEN));
        const result = finishHandshake(ss);
        wipe(e!.secretKey);
        e = null;
        step = "done";
        return { payload, ...result };
      } catch (err) {
        abandon();
        throw err;
      }
    },
  };
}

/**
 * The responder (server). `staticKey` is the server key named in the token;
 * it is read, never copied or wiped here. `ephemeral` is only for test vectors.
 */
export function createResponder(opts: {
  staticKey: KeyPair;
  psk: Uint8Array;
  prologue: Uint8Array;
  ephemeral?: KeyPair;
}): Responder {
  checkKeyPair("staticKey", opts.staticKey);
  checkLength("psk", opts.psk, PSKLEN);
  checkPrologue(opts.prologue);
  if (opts.ephemeral) checkKeyPair("ephemeral", opts.ephemeral);
  const s = opts.staticKey;
  let psk: Uint8Array | null = opts.psk.slice();
  let re: Uint8Array | null = null;
  const ss = initializeHandshake(opts.prologue, s.publicKey);
  let step: "read1" | "write2" | "done" | "failed" = "read1";

  function abandon(): void {
    step = "failed";
    ss.wipe();
    wipe(psk);
    psk = null;
    re = null;
  }

  return {
    readMessage1(message) {
      if (step !== "read1") throw outOfOrder("readMessage1", step);
      try {
        checkMessageLength(message);
        // -> psk: MixKeyAndHash(psk) (Noise §9.2).
        ss.mixKeyAndHash(psk!);
        wipe(psk);
        psk = null;
        // -> e: re = the first DHLEN bytes, MixHash(re), MixKey(re) (psk mode, Noise §9.2).
        re = message.slice(0, DHLEN);
        ss.mixHash(re);
        ss.mixKey(re);
        // -> es: the responder computes MixKey(DH(s, re)) (Noise §5.3).
        mixDh(ss, s.secretKey, re);
        const payload = ss.decryptAndHash(message.subarray(DHLEN));
        step = "write2";
        return { payload, remoteEphemeral: re.slice() };
      } catch (err) {
        abandon();
        throw err;
      }
    },

    writeMessage2(payload) {
      if (step !== "write2") throw outOfOrder("writeMessage2", step);
      checkPayloadLength(payload);
      let e: KeyPair | null = null;
      try {
        // <- e: generate e, MixHash(e.pub), MixKey(e.pub) (psk mode, Noise §9.2).
        e = opts.ephemeral ? copyKeyPair(opts.ephemeral) : generateX25519();
        ss.mixHash(e.publicKey);
        ss.mixKey(e.publicKey);
        // <- ee: MixKey(DH(e, re)).
        mixDh(ss, e.secretKey, re!);
        const message = concatBytes(e.publicKey, ss.encryptAndHash(payload));
        const result = finishHandshake(ss);
        step = "done";
        re = null;
        return { message, ...result };
      } catch (err) {
        abandon();
        throw err;
      } finally {
        wipe(e?.secretKey);
      }
    },
  };
}

/**
 * Initialize(handshake_pattern, initiator, prologue, s, e, rs, re, psk)
 * (Noise §5.3): InitializeSymmetric(protocol_name), MixHash(prologue), then
 * the pre-message `<- s`: MixHash(responder static public key).
 */
function initializeHandshake(prologue: Uint8Array, responderStatic: Uint8Array): SymmetricState {
  const ss = new SymmetricState(PROTOCOL_NAME);
  ss.mixHash(prologue);
  ss.mixHash(responderStatic);
  return ss;
}

/** MixKey(DH(secret, public)), wiping the DH output; a low-order public key fails (Noise §12.1). */
function mixDh(ss: SymmetricState, secretKey: Uint8Array, publicKey: Uint8Array): void {
  let dh: Uint8Array;
  try {
    dh = x25519(secretKey, publicKey);
  } catch {
    throw new HushError("auth_failed", "noise: invalid public key");
  }
  ss.mixKey(dh);
  wipe(dh);
}

/** After the last handshake message: GetHandshakeHash(), Split() (Noise §5.2), then wipe ck and h. */
function finishHandshake(ss: SymmetricState): HandshakeResult {
  const handshakeHash = ss.getHandshakeHash();
  const [c1, c2] = ss.split();
  ss.wipe();
  return { c1, c2, handshakeHash };
}

function checkMessageLength(message: Uint8Array): void {
  if (!(message instanceof Uint8Array) || message.length < MIN_MESSAGE_LEN || message.length > MAX_MESSAGE_LEN) {
    throw new HushError("auth_failed", "noise: bad handshake message length");
  }
}

function checkPayloadLength(payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array)) throw new HushError("internal", "noise: payload must be a Uint8Array");
  if (payload.length + MIN_MESSAGE_LEN > MAX_MESSAGE_LEN) {
    throw new HushError("too_large", `noise: handshake message would exceed ${MAX_MESSAGE_LEN} bytes`);
  }
}

function checkLength(field: string, value: Uint8Array, length: number): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new HushError("invalid_request", `noise: ${field} must be ${length} bytes`);
  }
}

function checkPrologue(prologue: Uint8Array): void {
  if (!(prologue instanceof Uint8Array)) throw new HushError("invalid_request", "noise: prologue must be a Uint8Array");
}

function checkKeyPair(field: string, kp: KeyPair): void {
  checkLength(`${field}.secretKey`, kp?.secretKey, DHLEN);
  checkLength(`${field}.publicKey`, kp?.publicKey, DHLEN);
}

function copyKeyPair(kp: KeyPair): KeyPair {
  return { secretKey: kp.secretKey.slice(), publicKey: kp.publicKey.slice() };
}

function outOfOrder(method: string, step: string): HushError {
  return new HushError("internal", `noise: ${method} called out of order (state: ${step})`);
}
