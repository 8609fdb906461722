/**
 * The server's X25519 identities and their staged rotation (SPIRE-style):
 *
 *   prepare  → a new key exists ("next"); nothing uses it yet
 *   activate → new tokens are minted under it; tokens of the old key still
 *              work (the old key is "previous")
 *   retire   → the previous key is wiped and its tokens refused
 *
 * Workers that already joined hold their own keys and are not affected at
 * any stage; a rekey is answered by any key that is not retired.
 * @module
 */
import { HushError } from "../errors.ts";
import { generateX25519, sha256, toB64u, wipe, type X25519KeyPair } from "../crypto/index.ts";

export type ServerKeyState = "next" | "active" | "previous";

export interface ServerKey extends X25519KeyPair {
  /** Short public id: `s_` + b64u(SHA-256(public)[0..9]). */
  id: string;
  state: ServerKeyState;
  createdAt: number;
}

export function serverKeyId(publicKey: Uint8Array): string {
  return "s_" + toB64u(sha256(publicKey).subarray(0, 9));
}

export class ServerKeys {
  private keys: ServerKey[] = [];

  constructor(initial: X25519KeyPair, private readonly now: () => number) {
    this.keys.push({ ...initial, id: serverKeyId(initial.publicKey), state: "active", createdAt: now() });
  }

  get active(): ServerKey {
    return this.keys.find((k) => k.state === "active")!;
  }

  byId(id: string): ServerKey | undefined {
    return this.keys.find((k) => k.id === id);
  }

  /** Every usable key, active first (a rekey may be addressed to any of them). */
  usable(): ServerKey[] {
    return [...this.keys].sort((a, b) => (a.state === "active" ? -1 : b.state === "active" ? 1 : 0));
  }

  list(): { id: string; state: ServerKeyState; created_at: number; public: Uint8Array }[] {
    return this.keys.map((k) => ({ id: k.id, state: k.state, created_at: k.createdAt, public: k.publicKey }));
  }

  prepare(): ServerKey {
    if (this.keys.some((k) => k.state === "next")) throw new HushError("conflict", "a prepared key already exists; activate it first");
    const pair = generateX25519();
    const k: ServerKey = { ...pair, id: serverKeyId(pair.publicKey), state: "next", createdAt: this.now() };
    this.keys.push(k);
    return k;
  }

  activate(): ServerKey {
    const next = this.keys.find((k) => k.state === "next");
    if (!next) throw new HushError("conflict", "no prepared key; run the prepare stage first");
    if (this.keys.some((k) => k.state === "previous")) throw new HushError("conflict", "the previous key is not retired yet; run the retire stage first");
    this.active.state = "previous";
    next.state = "active";
    return next;
  }

  /** Take back `prepare()` (its change could not be recorded): the prepared key is wiped and gone. */
  discardPrepared(id: string): void {
    const k = this.keys.find((x) => x.id === id && x.state === "next");
    if (!k) return;
    wipe(k.secretKey);
    this.keys = this.keys.filter((x) => x !== k);
  }

  /** Take back `activate()`: the active key is the prepared one again, the previous one active. */
  deactivate(): void {
    const prev = this.keys.find((k) => k.state === "previous");
    if (!prev) return;
    this.active.state = "next";
    prev.state = "active";
  }

  /** The key `retire()` would wipe; `conflict` when there is none. */
  previous(): ServerKey {
    const prev = this.keys.find((k) => k.state === "previous");
    if (!prev) throw new HushError("conflict", "no previous key to retire; activate a prepared key first");
    return prev;
  }

  /** Wipe the previous key; returns its id so its tokens can be refused. */
  retire(): string {
    const prev = this.previous();
    wipe(prev.secretKey);
    this.keys = this.keys.filter((k) => k !== prev);
    return prev.id;
  }

  wipe(): void {
    for (const k of this.keys) wipe(k.secretKey);
  }
}
