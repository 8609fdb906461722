/**
 * Which of the daemon's secrets the log masker holds, under which owner, and
 * until when. Every secret the daemon makes or is given is registered when
 * it comes to be and leaves the masker when its object ends:
 *
 * | secret                              | registered at                 | leaves at                                    |
 * | ----------------------------------- | ----------------------------- | -------------------------------------------- |
 * | server key (secret half)            | start, `server-key prepare`   | `server-key retire`                          |
 * | join token string and its PSK       | `token create`, `rotate token`| revoke, rotation, last use, expiry, retire of its server key |
 * | worker/admin credential string      | issue, join, rekey            | revoke (also clone lock), expiry; after a rekey the old one at the end of its grace period |
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
  token: (id: string) => `token:${id}`,
  cred: (name: string) => `cred:${name}`,
  serverKey: (id: string) => `server-key:${id}`,
};

/** A credential string given out for `rec` (issue or `hush run`): masked until the key ends. */
export function maskCredential(st: State, rec: KeyRecord, credential: string): void {
  st.masker.add(credential, { owner: maskOwner.key(rec.id), until: rec.expiresAt });
}

/**
 * After a join or a rekey, the worker holds a credential string the daemon
 * never sent; register the one it will have encoded (same fields as the
 * client's `encodeCredential`). After a rekey the previous string stays
 * masked while it can still sign requests (`prevUntil`).
 */
export function maskHandshakeCredential(st: State, rec: KeyRecord, serverPublic: Uint8Array): void {
  const owner = maskOwner.key(rec.id);
  if (rec.prevMacKey) st.masker.retire(owner, rec.prevUntil);
  try {
    const credential = encodeCredential({ kind: rec.kind, keyId: rec.id, macKey: rec.macKey, encKey: rec.encKey, serverPublic, tlsPin: st.tlsPin });
    st.masker.add(credential, { owner, until: rec.expiresAt });
  } catch {
    st.masker.failures++;
  }
}

/** A join token string and its PSK: masked until the token can no longer be used. */
export function maskToken(st: State, t: TokenRecord, token: string): void {
  const opts = { owner: maskOwner.token(t.id), until: t.expiresAt };
  st.masker.add(token, opts);
  st.masker.add(t.psk, opts);
}
