/**
 * The daemon's shared state, handed to every route.
 * @module
 */
import type { CredentialStore, CredCheckouts, KeyRecord, KeyRegistry, ReplayCache, ServerKeys, StateBackend, TokenRegistry } from "../broker/index.ts";
import type { RequestVerifier } from "../auth/index.ts";
import type { RateLimiter } from "./ratelimit.ts";
import type { JoinLimiter } from "./joinlimit.ts";
import type { FailureLedger } from "./failures.ts";
import type { Logger, Masker, Registry } from "../observe/index.ts";
import type { DaemonConfig } from "../config/index.ts";
import type { AuditEvent as AuditLineEvent } from "../audit/index.ts";

/** One audit event (PROTOCOL.md §9), as src/audit/event.ts defines it, with its result always given. Ids and names only: never a secret value. */
export interface AuditEvent extends AuditLineEvent {
  result: "ok" | "denied" | "error";
}

/** Where audit events go. `healthy` false = the sink cannot write (fail closed). */
export interface AuditSink {
  /** Record an event; it may wait in a backlog while the sink is failing. */
  record(ev: AuditEvent): void;
  /**
   * Write a change's records now, all or nothing (src/server/change.ts):
   * true when all are written; false when none is (then `refusal` is
   * recorded instead). Optional: without it, change.ts records each event
   * and reads `healthy`.
   */
  commit?(events: readonly AuditEvent[], refusal: AuditEvent): boolean;
  readonly healthy: boolean;
}

/** The audit file writer, where one is configured (for streaming, and ended at stop). */
export interface AuditLog {
  readonly path: string;
  /** `onClose` runs once the run has ended, after its `stop` line and closing seal went to `listener`. */
  subscribe(listener: (line: string) => void, onClose?: () => void): () => void;
  /** End the run: `stop` line and closing seal. Idempotent; false when lines could not be written. */
  close(): boolean;
}

export interface State {
  config: DaemonConfig;
  version: string;
  startedAt: number;
  /** The coordination state: in memory, or shared in Redis (docs/CLUSTER.md). */
  store: StateBackend;
  /** The Redis connection behind a shared backend (metrics: errors, epochs). */
  cluster?: { readonly errors: Map<string, number>; readonly epochs: number };
  registry: KeyRegistry;
  verifier: RequestVerifier<KeyRecord>;
  serverKeys: ServerKeys;
  tokens: TokenRegistry;
  creds: CredentialStore;
  /** Checkout, return and listing: `creds` itself, or its leases shared by every daemon (src/broker/cred-share.ts). */
  checkouts: CredCheckouts;
  audit: AuditSink;
  auditLog?: AuditLog;
  /** Key of `hush audit hash` (values appear in the log only in this HMAC form). */
  auditHmacKey: Uint8Array;
  /** Message-1 ephemeral keys seen inside the window (join and rekey replay protection). */
  /** Message-1 ephemeral keys of joins and rekeys (shared by the cluster on a shared backend). */
  handshakeReplay: ReplayCache;
  /** Joins per source, per network and in all (src/server/joinlimit.ts). */
  joinLimits: JoinLimiter;
  /** Requests per key id (token bucket). */
  keyLimiter: RateLimiter;
  /** Unauthenticated failures: per-source accounting, summaries and limit (src/server/failures.ts). */
  failures: FailureLedger;
  /** SHA-256 of the TLS listener's SPKI, carried in tokens and credentials. */
  tlsPin?: Uint8Array;
  tlsSelfSigned?: boolean;
  log: Logger;
  masker: Masker;
  metrics: Registry;
  inFlight: number;
  /** When the last request that counts as use ended (ms; start-up until then): `--idle-timeout` (idle.ts). */
  lastActiveAt: number;
  /** Closers of open audit follow streams: they end themselves after the run's closing seal; these are the fallback at stop. */
  streams: Set<() => void>;
  phase: "starting" | "serving" | "draining";
}
