/**
 * Request/response signing and verification (PROTOCOL.md §3–4).
 * @module
 */
export * from "./header.ts";
export * from "./sign.ts";
export * from "./nonces.ts";
export * from "./verifier.ts";
