/**
 * ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha-03: 24-byte nonces, safe to pick at random for
 * any number of messages) from @noble/ciphers. Not in node:crypto under
 * Bun (oven-sh/bun#8072), so the audited JS implementation is the only path.
 * @module
 */
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";

/** Encrypt: returns ciphertext ‖ 16-byte tag. `nonce` is 12 bytes. */
export function sealChaCha(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Decrypt and authenticate; throws on a bad tag. */
export function openChaCha(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, aad).decrypt(ciphertext);
}

/** XChaCha20-Poly1305 encrypt: ciphertext ‖ 16-byte tag. `nonce` is 24 bytes (random is safe). */
export function sealXChaCha(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** XChaCha20-Poly1305 decrypt and authenticate; throws on a bad tag. */
export function openXChaCha(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext);
}
