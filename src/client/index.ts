/**
 * Public SDK entry point (package.json `exports`).
 * @module
 */
export { Client, openSealed, pickTransport, type Checkout, type ClientOptions, type Lock, type Lease } from "./client.ts";
export { AdminClient } from "./admin.ts";
export { HushError, isHushError, type ErrorCode } from "../errors.ts";
export { joinWithToken, type JoinResult } from "./join.ts";
export { checkedSocketPath, createUnixTransport, type Transport, type UnixTransportOptions } from "./transport.ts";
export { createTlsTransport, createLoopbackTransport } from "./tls.ts";
