/**
 * The broker's state layer: pure, in-memory, clock injected (DESIGN.md
 * "src/broker"). The server imports from here only.
 * @module
 */
export { MemoryStore } from "./store.ts";
export { checkValue, encodeCursor, decodeCursor, parseCounter, type KeyPage, type KvRead, type SetOptions } from "./kv.ts";
export { CostBudget } from "./budget.ts";
export { checkLease, type LeaseGrant, type LeaseOptions } from "./pools.ts";
export type { StoreOptions } from "./store.ts";
export { after, type Awaitable, type ClaimAnswer, type RememberResult, type ReplayCache, type StateBackend, type StoreStats } from "./backend.ts";
export {
  DEFAULT_LIMITS,
  LimitTally,
  MAX_HOLDER_CHARS,
  ZERO_TTL,
  requireTtl,
  resolveLimits,
  validateHolder,
  validateName,
  validatePrefix,
  validateTtl,
  validateToken,
} from "./limits.ts";
export type { StoreLimits } from "./limits.ts";
export * from "./registry.ts";
export { SharedKeyRegistry, type KeyMirror, type KeyVersions, type StoredKey } from "./key-share.ts";
export * from "./tokens.ts";
export { SharedTokenRegistry, type EndedToken, type TokenMirror } from "./token-share.ts";
export * from "./serverkeys.ts";
export * from "./creds.ts";
export * from "./cred-share.ts";
