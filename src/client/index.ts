/**
 * Public SDK entry point (package.json `exports`).
 * @module
 */
export {
  Client,
  openSealed,
  pickTransport,
  transportKind,
  type TransportKind,
  type CallOptions,
  type Checkout,
  type ClientOptions,
  type GetOrSetOptions,
  type Lease,
  type LeaseOptions,
  type Lock,
  type LockOptions,
  type SetOptions,
  type Status,
  type WaitOptions,
  type WhoAmI,
} from "./client.ts";
export { AdminClient } from "./admin.ts";
export { HushError, isHushError, type ErrorCode } from "../errors.ts";
export { joinWithToken, type JoinResult } from "./join.ts";
export { checkedSocketPath, createUnixTransport, type Transport, type UnixTransportOptions } from "./transport.ts";
export { createTlsTransport, createLoopbackTransport } from "./tls.ts";
export { createWsTransport, CLOSE_UNPROCESSED, type Opener, type WsSocket, type WsEvents, type WsTransportOptions } from "./transport-ws.ts";
export { unixOpener, tlsOpener, loopbackOpener } from "./ws-open.ts";
export { startDaemon, type HushDaemon, type StartDaemonOptions } from "./daemon.ts";
export { findBinary, type FindBinaryOptions } from "./binary.ts";
export { PACKAGE_NAME, PLATFORMS, hostPlatform, platformPackage, type Platform, type PlatformName } from "./platforms.ts";
export { leaseWorkerSlot, workerIndex, type WorkerSlotOptions } from "./runner.ts";
