/**
 * Logging with secret masking, and Prometheus metrics.
 * @module
 */
export * from "./mask.ts";
export * from "./log.ts";
export * from "./metrics.ts";
