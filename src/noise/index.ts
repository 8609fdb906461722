/**
 * Noise_NKpsk0_25519_ChaChaPoly_SHA256 (Noise Protocol Framework rev 34), the
 * join and rekey handshake of PROTOCOL.md §5–6. Pure state machines; all
 * primitives come from `src/crypto`.
 * @module
 */
export { PROTOCOL_NAME, createInitiator, createResponder } from "./handshake.ts";
export type { HandshakeResult, Initiator, KeyPair, Responder } from "./handshake.ts";
export { MAX_MESSAGE_LEN } from "./symmetric.ts";
export type { CipherState } from "./symmetric.ts";
