/**
 * Which of the daemon's secrets the log masker holds, under which owner, and
 * until when. Every secret the daemon makes or is given is registered when
 * it comes to be and leaves the masker when its object ends:
 *
 * | secret                              | registered at                 | leaves at                                    |
 * | ----------------------------------- | ----------------------------- | -------------------------------------------- |
 * | server key (secret half)            | start, `server-key prepare`   | `server-key retire`                          |
 * | join token string and its PSK       | `token create`, `rotate token`| revoke, rotation, last use, expiry, retire of its server key |
 * | worker/admin credential string      | issue, join, rekey confirmed  | revoke (also clone lock), expiry; after a confirmed rekey the old one at the end of its grace period (at once after a demanded rotation) |
 * | pending credential string (a rekey) | rekey answered                | confirmation, a later rekey (superseded), revoke, its expiry |
 * | credential values                   | `creds put`, `--creds-file`…  | `creds delete`, replacement by a new put     |
 *
 * Registration never throws (Masker.add), so it is never the reason a
 * request fails half-done. Deadlines are applied by the daemon's sweeper.
 * @module
 */
import { encodeCredential } from "../keys/index.ts";
import type { KeyRecord, TokenRecord } from "../broker/index.ts";
import type { State } from "./state.ts";

/** Masker owner names of the daemon's objects. */
export const maskOwner = {
  key: (id: string) => `key:${id}`,
  /** The credential of an answered, not yet confirmed, rekey. */
  pendingKey: (id: string) => `key-pending:${id}`,
  token: (id: string) => `token:${id}`,
  cred: (name: string) => `cred:${name}`,
  serverKey: (id: string) => `server-key:${id}`,
};

/** A credential string given out for `rec` (issue or `hush run`): masked until the key ends. */
export function maskCredential(st: State, rec: KeyRecord, credential: string): void {
  st.masker.add(credential, { owner: maskOwner.key(rec.id), until: rec.expiresAt });
}

/** Mask the credential string the worker builds from `keys` (the same fields as the client's `encodeCredential`). */
function maskKeys(st: State, rec: KeyRecord, keys: { macKey: Uint8Array; encKey: Uint8Array }, serverPublic: Uint8Array, owner: string, until: number): void {
  try {
    const credential = encodeCredential({ kind: rec.kind, keyId: rec.id, macKey: keys.macKey, encKey: keys.encKey, serverPublic, tlsPin: st.tlsPin });
    st.masker.add(credential, { owner, until });
  } catch {
    st.masker.failures++;
  }
}

/** After a join, the worker holds a credential string the daemon never sent; mask the one it will have encoded. */
export function maskHandshakeCredential(st: State, rec: KeyRecord, serverPublic: Uint8Array): void {
  maskKeys(st, rec, rec, serverPublic, maskOwner.key(rec.id), rec.expiresAt);
}

/**
 * After a rekey is answered: mask the pending credential until it is
 * confirmed or superseded. A superseded one leaves at once (it can sign
 * nothing any more: its use locks the worker).
 */
export function maskPendingCredential(st: State, rec: KeyRecord): void {
  const owner = maskOwner.pendingKey(rec.id);
  st.masker.release(owner);
  if (rec.pending) maskKeys(st, rec, rec.pending, rec.pending.serverPublic, owner, rec.pending.expiresAt);
}

/**
 * After the pending key was confirmed (now `rec`'s current key): the old
 * credential stays masked while it can still sign requests (`prevUntil`;
 * not at all after a demanded rotation), the new one until the key ends.
 */
export function maskConfirmedCredential(st: State, rec: KeyRecord, serverPublic: Uint8Array): void {
  st.masker.retire(maskOwner.key(rec.id), rec.prevMacKey ? rec.prevUntil : Date.now());
  st.masker.release(maskOwner.pendingKey(rec.id));
  maskHandshakeCredential(st, rec, serverPublic);
}

/** A join token string and its PSK: masked until the token can no longer be used. */
export function maskToken(st: State, t: TokenRecord, token: string): void {
  const opts = { owner: maskOwner.token(t.id), until: t.expiresAt };
  st.masker.add(token, opts);
  st.masker.add(t.psk, opts);
}
