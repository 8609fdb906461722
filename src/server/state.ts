/**
 * The daemon's shared state, handed to every route.
 * @module
 */
import type { MemoryStore } from "../broker/index.ts";
import type { KeyRecord, KeyRegistry } from "../broker/index.ts";
import type { RequestVerifier } from "../auth/index.ts";
import type { Logger, Masker, Registry } from "../observe/index.ts";
import type { DaemonConfig } from "../config/index.ts";
import type { X25519KeyPair } from "../crypto/index.ts";

export interface State {
  config: DaemonConfig;
  version: string;
  startedAt: number;
  store: MemoryStore;
  registry: KeyRegistry;
  verifier: RequestVerifier<KeyRecord>;
  serverKey: X25519KeyPair;
  tlsPin?: Uint8Array;
  log: Logger;
  masker: Masker;
  metrics: Registry;
  inFlight: number;
  phase: "starting" | "serving" | "draining";
}
