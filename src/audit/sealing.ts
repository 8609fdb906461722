/**
 * The forward-secure sealing chain of the audit log, format 2 (PROTOCOL.md
 * §9.4). Pure: bytes in, bytes out.
 *
 * One secret seed, made by `hush keygen audit` and kept off the daemon's
 * host, is the **verification key**. Everything else follows from it:
 *
 *     key_id   = b64u(HMAC-SHA256(seed, "hush/2 audit key id")[0..9])   (12 characters, public)
 *     S_0      = HKDF-SHA256(ikm = seed, salt = none, info = "hush/2 audit state 0", L = 32)
 *     S_{n+1}  = HMAC-SHA256(S_n, "hush/2 audit evolve")                 (the state evolves one way)
 *     K_n      = HMAC-SHA256(S_n, "hush/2 audit seal key")               (the key of epoch n)
 *     mac      = b64u(HMAC-SHA256(K_n, "HUSH2-SEAL\n" ‖ key_id ‖ "\n" ‖ seq ‖ "\n" ‖ n ‖ "\n" ‖ prev ‖ "\n" ‖ ts))
 *
 * The daemon's host holds only (n, S_n) — `S_0` at first, in the state file
 * that keygen writes — and replaces it by S_{n+1} as soon as the seal of
 * epoch n is in the log. Epochs count across runs: a run starts at the
 * epoch the state file holds and seals its `start` line at once, so every
 * start moves the state on too. Whoever steals the state at epoch n can
 * compute K_n, K_{n+1}, … but no earlier key (HMAC is one-way); the
 * verifier, holding the seed, computes every K_n, and insists that epochs
 * run 0, 1, 2 … without a gap from the first sealed run of the file to the
 * last. So a thief can neither re-seal anything sealed before the state was
 * stolen, nor put a made-up run in front of it (a run's key is its place in
 * the one chain, not something of its own), nor cut sealed lines out and
 * carry on (the gap in the epochs shows).
 *
 * This is the symmetric forward-secure MAC chain of Bellare–Yee (1997) and
 * Schneier–Kelsey (1999); journald's FSPRG adds a public-key structure so
 * that a verifier can seek to any epoch in O(1) from a short key, which
 * would need big-number code that hush does not have and must not hand-roll.
 * Here a verifier walks the chain, two HMACs per epoch (about a million
 * epochs per second), which it does anyway while reading the file. The
 * epoch-continuity rule is the lesson of journald's CVE-2023-31438 (a sealed
 * journal could be truncated and continued) and the binding of every seal to
 * its epoch and place that of CVE-2023-31439 (old entries re-sealed with a
 * newer key).
 * @module
 */
import { hkdfSha256, hmacSha256, toB64u, wipe } from "../crypto/index.ts";

/** Length of the verification key (the seed) and of a state, bytes. */
export const SEAL_SEED_BYTES = 32;

/** The public id of a verification key: 12 b64u characters. */
export function sealKeyId(seed: Uint8Array): string {
  checkLength(seed, "verification key");
  return toB64u(hmacSha256(seed, "hush/2 audit key id").subarray(0, 9));
}

/** True when `s` has the shape of a key id. */
export function isSealKeyId(s: unknown): s is string {
  return typeof s === "string" && /^[A-Za-z0-9_-]{12}$/.test(s);
}

/** S_0: the state of epoch 0, written to the host by `hush keygen audit`. */
export function initialSealState(seed: Uint8Array): Uint8Array {
  checkLength(seed, "verification key");
  return hkdfSha256(seed, undefined, "hush/2 audit state 0", 32);
}

/** S_{n+1} from S_n. The caller wipes S_n. */
export function evolveSealState(state: Uint8Array): Uint8Array {
  checkLength(state, "sealing state");
  return hmacSha256(state, "hush/2 audit evolve");
}

/** K_n, the key that seals epoch n, from S_n. The caller wipes it after use. */
export function epochSealKey(state: Uint8Array): Uint8Array {
  checkLength(state, "sealing state");
  return hmacSha256(state, "hush/2 audit seal key");
}

/** The `mac` of a format-2 seal line with these fields, under K_epoch. */
export function sealMacV2(key: Uint8Array, keyId: string, seq: number, epoch: number, prev: string, ts: number): string {
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(ts)) throw new TypeError("sealMacV2: seq, epoch and ts must be integers");
  return toB64u(hmacSha256(key, `HUSH2-SEAL\n${keyId}\n${seq}\n${epoch}\n${prev}\n${ts}`));
}

/**
 * The verifier's walk along the chain: `keyAt(n)` for n = 0, 1, 2 … in
 * order (it never goes back; states behind it are wiped).
 */
export class SealChain {
  readonly keyId: string;
  private state: Uint8Array;
  private epoch = 0;

  constructor(seed: Uint8Array) {
    this.keyId = sealKeyId(seed);
    this.state = initialSealState(seed);
  }

  /** K_n. Throws RangeError when n is behind the walk. */
  keyAt(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < this.epoch) throw new RangeError(`seal chain: epoch ${n} is behind ${this.epoch}`);
    while (this.epoch < n) {
      const next = evolveSealState(this.state);
      wipe(this.state);
      this.state = next;
      this.epoch++;
    }
    return epochSealKey(this.state);
  }

  wipe(): void {
    wipe(this.state);
  }
}

function checkLength(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== SEAL_SEED_BYTES) throw new TypeError(`${what} must be ${SEAL_SEED_BYTES} bytes`);
}
