/**
 * The audit log (PROTOCOL.md §9): hash-chained, forward-sealed JSON Lines.
 * Writer, sealing chain and state file, verifier, reader/follower, and the
 * hashes and MACs they share.
 * @module
 */
export * from "./hash.ts";
export * from "./sealing.ts";
export * from "./state-file.ts";
export * from "./file.ts";
export * from "./event.ts";
export * from "./writer.ts";
export * from "./verify.ts";
export * from "./verify-logs.ts";
export * from "./read.ts";
