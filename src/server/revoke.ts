/**
 * What happens when a key ends: every way a key is revoked (`hush workers
 * revoke`, clone detection, any later caller of `KeyRegistry.revoke`) and
 * its expiry (noticed by the sweeper) lead to `endKey`, through the
 * registry's `onEnd` hook, so no revocation path can forget it.
 *
 * `endKey` stops masking a revoked key's credential (an expired one is
 * released by its mask's own expiry) and the credential of a rekey it never
 * confirmed, ends the key's credential leases (an
 * exclusive value is free for others at once), its locks and its pool
 * slots and its claims on KV keys (getOrSet), and audits each one
 * (`action: "revoke.release"`, `actor`: the key, `target`: `cred:NAME`,
 * `lock:NAME`, `pool:NAME` or `claim:KEY`, `reason`: `revoked`, `clone_suspected` or
 * `expired`). Fencing tokens are untouched: a resource still refuses a
 * token lower than the newest it has seen.
 * @module
 */
import type { Awaitable, KeyEnd, KeyRecord } from "../broker/index.ts";
import type { State } from "./state.ts";
import { maskOwner } from "./masking.ts";

/** Route every key's end to `endKey`. Call once, when the daemon's state is built. */
export function installKeyEnd(st: State): void {
  st.registry.onEnd = (rec, end) => void endKey(st, rec, end);
}

/**
 * End what `rec` held; audit and log it. Returns how many holds ended: at
 * once with the in-memory backend; with a shared one the locks and pool
 * leases are released when its answer comes (if the backend cannot answer,
 * they end at their own expiry, and a warning says so).
 */
export function endKey(st: State, rec: KeyRecord, end: KeyEnd): Awaitable<number> {
  if (end.reason !== "expired") st.masker.release(maskOwner.key(rec.id));
  st.masker.release(maskOwner.pendingKey(rec.id)); // an unconfirmed rekey's key can never be used now
  const leases = st.checkouts.endHolder(rec.id);
  const held = st.store.releaseOwner(rec.id);
  if (!(held instanceof Promise) && !(leases instanceof Promise)) return _ended(st, rec, end, leases, held);
  const warn = (what: string) => (e: unknown) => {
    st.log.warn(`the ended key's ${what} could not be released now; they end at their expiry`, { key_id: rec.id, err: String((e as Error)?.message ?? e) });
  };
  const l = Promise.resolve(leases).catch((e) => (warn("credential leases")(e), [] as { cred: string }[]));
  const h = Promise.resolve(held).catch((e) => (warn("locks, claims and pool leases")(e), { locks: [], pools: [], claims: [] } as Held));
  return Promise.all([l, h]).then(([ls, hs]) => _ended(st, rec, end, ls, hs));
}

type Held = { locks: string[]; pools: string[]; claims: string[] };

function _ended(st: State, rec: KeyRecord, end: KeyEnd, leases: { cred: string }[], held: Held): number {
  const { locks, pools, claims } = held;
  const targets = [
    ...leases.map((l) => `cred:${l.cred}`),
    ...locks.map((n) => `lock:${n}`),
    ...pools.map((n) => `pool:${n}`),
    ...claims.map((k) => `claim:${k}`),
  ];
  // The holds have ended whatever happens next: a sink or logger that throws must not stop a revoke or the sweeper half-way.
  try {
    for (const target of targets) {
      st.audit.record({ actor: rec.id, via: "revoke", action: "revoke.release", target, result: "ok", reason: end.reason, corr_id: end.corrId });
    }
    if (targets.length > 0 || end.reason !== "expired") {
      st.log.info("key ended", { key_id: rec.id, reason: end.reason, by: end.actor, leases: leases.length, locks: locks.length, pool_leases: pools.length, claims: claims.length });
    }
  } catch {}
  return targets.length;
}
