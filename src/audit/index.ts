/**
 * The audit log (PROTOCOL.md §9): hash-chained, forward-sealed JSON Lines.
 * Writer, verifier, reader/follower, and the hashes and MACs they share.
 * @module
 */
export * from "./hash.ts";
export * from "./writer.ts";
export * from "./verify.ts";
export * from "./read.ts";
