/**
 * The only module that imports crypto libraries (@noble/*, node:crypto).
 * Everything else in hush calls these functions.
 * @module
 */
export * from "./bytes.ts";
export * from "./random.ts";
export * from "./hash.ts";
export * from "./mac.ts";
export * from "./x25519.ts";
export * from "./aead.ts";
export * from "./p256.ts";
export * from "./box.ts";
