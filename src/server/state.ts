/**
 * The daemon's shared state, handed to every route.
 * @module
 */
import type { KeyRecord, KeyRegistry, MemoryStore, ServerKeys, TokenRegistry } from "../broker/index.ts";
import type { NonceCache, RequestVerifier } from "../auth/index.ts";
import type { RateLimiter } from "./ratelimit.ts";
import type { Logger, Masker, Registry } from "../observe/index.ts";
import type { DaemonConfig } from "../config/index.ts";

export interface State {
  config: DaemonConfig;
  version: string;
  startedAt: number;
  store: MemoryStore;
  registry: KeyRegistry;
  verifier: RequestVerifier<KeyRecord>;
  serverKeys: ServerKeys;
  tokens: TokenRegistry;
  /** Message-1 ephemeral keys seen inside the window (join and rekey replay protection). */
  handshakeReplay: NonceCache;
  joinLimits: { global: RateLimiter; perSource: RateLimiter };
  tlsPin?: Uint8Array;
  log: Logger;
  masker: Masker;
  metrics: Registry;
  inFlight: number;
  phase: "starting" | "serving" | "draining";
}
