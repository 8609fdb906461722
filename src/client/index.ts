/**
 * Public SDK entry point (package.json `exports`).
 * @module
 */
export { Client, type ClientOptions, type Lock, type Lease } from "./client.ts";
export { AdminClient } from "./admin.ts";
export { HushError, isHushError, type ErrorCode } from "../errors.ts";
