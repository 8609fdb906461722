/**
 * HMAC-SHA256 (RFC 2104) with the keyed state computed once per MAC key.
 *
 * Every signed request costs two HMACs on each side (the request signature,
 * the answer signature; PROTOCOL.md §3, §4), always under the same few keys.
 * Keying HMAC hashes the key's inner and outer pads; in Bun that state is
 * kept in one keyed `Bun.CryptoHasher` per key and `copy()`'d for each
 * message, which skips the key set-up (docs/PERFORMANCE.md has the figures).
 * Node's `Hmac` cannot be copied, so there a fresh `createHmac` is keyed per
 * message, as before. Nothing here implements HMAC: both are the platform's.
 *
 * The state belongs to the key bytes: `macState(key)` keeps it in a WeakMap
 * keyed by the `Uint8Array`, so it lives exactly as long as the key record
 * that holds the array. It is never stale: each use checks, in constant
 * time, that the array still holds the bytes the state was keyed with (a
 * key zero-filled or changed in place gets a new state), and `wipe()`
 * (bytes.ts) drops the state of every array it zero-fills, and zero-fills
 * the state's own copy of the key. What JavaScript cannot do is zero-fill
 * the native hasher's memory: it is released when collected, as the
 * hasher made per message before this module was.
 * @module
 */
import { createHmac } from "node:crypto";

type Input = Uint8Array | string;

/** An HMAC keyed now, taking its message later: `update(data)` then `digest("base64url")`, once. */
export interface KeyedHmac {
  update(data: Input): KeyedHmac;
  digest(encoding: "base64url"): string;
  /** The 32 bytes (a Buffer in Bun and Node). */
  digest(): Uint8Array;
}

/** A MAC key's HMAC-SHA256, keyed once. */
export interface MacState {
  /** HMAC-SHA256(key, data) as base64url without padding (43 characters). */
  b64u(data: Input): string;
  /** HMAC-SHA256(key, data), 32 bytes. */
  bytes(data: Input): Uint8Array;
  /**
   * A one-shot HMAC keyed with this key as it is now, independent of later
   * changes to the key: the daemon takes one when it verifies a request and
   * signs the answer with it, even if a handler rekeys or revokes the key.
   */
  fork(): KeyedHmac;
}

const BunHasher: any = (globalThis as any).Bun?.CryptoHasher;

class Mac implements MacState {
  /** The key as keyed (to notice a change in place); zero-filled by `forget`. */
  readonly key: Uint8Array;
  private hasher: any;

  constructor(key: Uint8Array) {
    this.key = key.slice();
    this.hasher = BunHasher ? new BunHasher("sha256", key) : undefined;
  }

  b64u(data: Input): string {
    return this.fork().update(data).digest("base64url");
  }

  bytes(data: Input): Uint8Array {
    return this.fork().update(data).digest();
  }

  fork(): KeyedHmac {
    return this.hasher ? this.hasher.copy() : (createHmac("sha256", this.key) as unknown as KeyedHmac);
  }

  /** Whether `key` still holds the bytes this state was keyed with (constant time; lengths are public). */
  matches(key: Uint8Array): boolean {
    const k = this.key;
    if (k.length !== key.length) return false;
    let diff = 0;
    for (let i = 0; i < k.length; i++) diff |= k[i]! ^ key[i]!;
    return diff === 0;
  }

  forget(): void {
    this.key.fill(0);
    this.hasher = undefined;
  }
}

const states = new WeakMap<Uint8Array, Mac>();

/** The keyed HMAC-SHA256 state of `key` (made on first use, kept with the array). */
export function macState(key: Uint8Array): MacState {
  const s = states.get(key);
  if (s !== undefined && s.matches(key)) return s;
  // A new key, or one changed in place since: key it again (a stale state is dropped, never used).
  s?.forget();
  const fresh = new Mac(key);
  states.set(key, fresh);
  return fresh;
}

/** Drop the keyed state of `key`, zero-filling its copy of the key (called by `wipe`). Forks already taken keep working. */
export function forgetMacState(key: Uint8Array): void {
  const s = states.get(key);
  if (s === undefined) return;
  states.delete(key);
  s.forget();
}
