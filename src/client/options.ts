/**
 * Option and result types of the SDK's public calls (client.ts), camelCase
 * like everything the SDK returns; docs/SDK.md explains each.
 * @module
 */
import type { CallOptions, WaitOptions } from "./wait.ts";

/** Options of `lock` and `withLock`. */
export interface LockOptions extends CallOptions {
  /** Lease time of the lock, in ms (required: a lock always expires). */
  ttlMs: number;
  /** A label recorded with the lock (informational). */
  holder?: string | undefined;
  /** Wait while someone else holds it (without: one try, `conflict` at once). */
  wait?: WaitOptions | undefined;
}

/** Options of `lease`. */
export interface LeaseOptions extends CallOptions {
  /** The pool's number of slots (fixed by its first lease). */
  size: number;
  ttlMs: number;
  /** The same holder (with the same credential) gets the same slot back. */
  holder?: string | undefined;
  /** The pool keeps one slot per holder name, whoever asks (fixed by its first lease; needs `holder`). */
  onePerHolder?: boolean | undefined;
  /** Wait while every slot is taken. */
  wait?: WaitOptions | undefined;
}

/** Options of `set`. */
export interface SetOptions extends CallOptions {
  /** TTL in ms (absent: a live key keeps its expiry; a new key gets the daemon's default, or `ttl_required`). 0 is refused. */
  ttlMs?: number | undefined;
  /** Write only when no live key exists; `written: false` otherwise. */
  ifAbsent?: boolean | undefined;
  /** Reads push the expiry out by the TTL (capped at 30 days after this write). */
  slide?: boolean | undefined;
}

/** What `whoami` says about this client's key. */
export interface WhoAmI {
  id: string;
  name: string;
  kind: "worker" | "admin";
  tags: string[];
  expiresAt: number;
  rekeyRequired: boolean;
  /** The server's active public key (`hushpub1…`). */
  serverPublic: string;
}
