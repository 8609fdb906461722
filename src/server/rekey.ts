/**
 * `POST /v1/rekey` (PROTOCOL.md §6): the Noise NKpsk0 responder keyed by the
 * worker's current MAC key, with **key confirmation** (as WireGuard's and
 * TLS 1.3's key updates): a rekey makes a *pending* key and leaves the
 * current one in force; the pending key's first use confirms it.
 *
 * What each MAC key generation (src/auth/verifier.ts) means here:
 *
 * | generation   | a rekey (`/v1/rekey`)                      | any other request                          |
 * | ------------ | ------------------------------------------ | ------------------------------------------ |
 * | `current`    | a new pending key (replaces an earlier one) | served                                     |
 * | `pending`    | confirms it, then as `current`             | confirms it, then served                   |
 * | `previous`   | clone: the worker is locked                | served (the grace period, in-flight only)  |
 * | `retired`    | clone: the worker is locked                | `retired_key`, not locked (a late request) |
 * | `superseded` | clone: the worker is locked                | clone: the worker is locked                |
 *
 * So a rekey whose answer was lost is retried with the old key, which is
 * still the current one, and gets a fresh answer; the lost answer's key
 * never becomes valid. Only a holder who *received* an answer can sign with
 * a pending key, and an honest worker that received one never rekeys with
 * the old key again: a superseded key in use, or the old key rekeying after
 * the new one was confirmed, means two holders of one credential.
 *
 * Invariants: a refused rekey changes nothing (the clone verdict, which
 * revokes, is the deliberate exception); at most one pending key; a
 * superseded key is never accepted.
 * @module
 */
import { HushError } from "../errors.ts";
import { toB64u, utf8, wipe } from "../crypto/index.ts";
import { createResponder } from "../noise/index.ts";
import { after, type KeyRecord } from "../broker/index.ts";
import type { KeyGeneration } from "../auth/index.ts";
import type { AuditEvent, State } from "./state.ts";
import { fail, ok, type Answer } from "./http.ts";
import { maskConfirmedCredential, maskPendingCredential } from "./masking.ts";
import { checkFresh, JoinRefused, readMessage } from "./routes-join.ts";
import type { Ctx } from "./pipeline.ts";
import { recordFailure } from "./failures.ts";
import { commitRecords, requireAudit, runChange } from "./change.ts";

/**
 * The rekey handshake for `key`, signed with MAC key `generation`: answers
 * message 2 and records the new keys as pending. Throws `JoinRefused`
 * (`clone_suspected` after locking the worker; `handshake_failed`,
 * `bad_payload`, `stale_timestamp`, `replayed_message`), `invalid_request`,
 * `busy`, `unavailable` (audit log down).
 */
export function handleRekey(c: Ctx, key: KeyRecord, generation: KeyGeneration, body: Uint8Array): Answer | Promise<Answer> {
  const st = c.st;
  if (generation !== "current") {
    // The credential was copied: someone else already rotated this key away.
    lockClone(st, key, "a rotated-away key tried to rekey");
    throw new JoinRefused("clone_suspected");
  }
  requireAudit(st.audit);
  const { msg } = readMessage(body, false);
  const prologue = utf8(`hush/1 rekey\n${key.id}`);
  // The worker addresses the active server key; a key joined under an older
  // (still usable) one works too.
  let responder: ReturnType<typeof createResponder> | undefined;
  let m1: { payload: Uint8Array; remoteEphemeral: Uint8Array } | undefined;
  let serverPublic: Uint8Array | undefined;
  for (const sk of st.serverKeys.usable()) {
    const r = createResponder({ staticKey: sk, psk: key.macKey, prologue });
    try {
      m1 = r.readMessage1(msg);
      responder = r;
      serverPublic = sk.publicKey;
      break;
    } catch {}
  }
  if (!responder || !m1 || !serverPublic) throw new JoinRefused("handshake_failed");
  const answering = responder;
  const pub = serverPublic;
  // A shared handshake replay cache answers later.
  return after(checkFresh(st, m1.payload, m1.remoteEphemeral), () => {
    const now = Date.now();
    const expiresAt = st.registry.rekeyExpiry(key);
    const m2 = answering.writeMessage2(utf8(JSON.stringify({ id: key.id, expires_at: expiresAt, tags: key.tags, server_time: now })));
    const macKey = m2.c1.key;
    const encKey = m2.c2.key;
    m2.c1.wipe();
    m2.c2.wipe();
    // A recorded change (src/server/change.ts): the pending key replaces an earlier one only once the rekey is recorded.
    return runChange(c, {
      apply: () => {},
      undo: () => wipe(macKey, encKey),
      log: () => st.log.info("worker rekey answered; the new key is pending until its first use", { worker: key.id, superseded: key.pending !== null }),
      records: () => [{ actor: key.id, action: "rekey", target: key.id }],
      commit: () => {
        st.registry.rekey(key, { macKey, encKey, serverPublic: pub, expiresAt });
        maskPendingCredential(st, key);
      },
      answer: () => ok({ msg: toB64u(m2.message) }),
    });
  }) as Answer | Promise<Answer>;
}

/** Revoke `key` as a copied credential and log it (the caller audits the refusal). */
function lockClone(st: State, key: KeyRecord, why: string): void {
  st.registry.revoke(key.id, { reason: "clone_suspected", actor: key.id });
  try {
    st.log.warn(`clone suspected: ${why}; worker locked`, { worker: key.id, event: "clone_suspected" });
  } catch {}
}

/**
 * For `authenticate`, after a valid signature under a `pending` or
 * `superseded` MAC key: confirm the pending key (it becomes the current
 * key, audited as `rekey.confirm`) and return `"current"`; or lock the
 * worker for a superseded key, set the (unsigned) `auth_failed` answer and
 * return null.
 */
export function settleRekey(c: Ctx, key: KeyRecord, generation: "pending" | "superseded"): KeyGeneration | null {
  const { st } = c;
  if (generation === "pending") {
    // Recorded first, then confirmed (a confirmation cannot be taken back): while the audit log
    // cannot be written the pending key is refused (`unavailable`) and the current one still works.
    const serverPublic = key.pending!.serverPublic;
    requireAudit(st.audit);
    const ev: AuditEvent = { actor: key.id, via: "worker", action: "rekey.confirm", target: key.id, result: "ok", corr_id: c.corrId };
    if (!commitRecords(st.audit, [ev], { ...ev, result: "error", reason: "unavailable" })) throw new HushError("unavailable", "the audit log cannot be written; refusing until it recovers");
    st.registry.confirm(key, st.config.rekeyGraceMs);
    maskConfirmedCredential(st, key, serverPublic);
    try {
      st.log.info("worker rekeyed: the new key is confirmed", { worker: key.id, corr_id: c.corrId });
    } catch {}
    return "current";
  }
  lockClone(st, key, "a superseded rekey key was used");
  c.m.authFailures.inc({ reason: "clone_suspected" });
  try {
    st.log.warn("authentication failed", { corr_id: c.corrId, reason: "clone_suspected", key_id: key.id, route: c.label });
    st.audit.record({ actor: key.id, via: "worker", action: "clone_suspected", target: key.id, result: "denied", reason: "clone_suspected", corr_id: c.corrId });
  } catch {}
  c.answer = fail("auth_failed", "authentication failed", c.corrId);
  return null;
}

/** `POST /v1/rekey` (role `self`): audited either way; a refusal's reason goes to logs and metrics. */
export function rekeyRoute(c: Ctx): Answer | Promise<Answer> {
  const key = c.key!;
  try {
    const a = handleRekey(c, key, c.generation!, c.body);
    return a instanceof Promise ? a.catch((e) => rekeyRefused(c, key, e)) : a;
  } catch (e) {
    return rekeyRefused(c, key, e);
  }
}

/** Account a refused rekey (a clone verdict is written at once: it locks the worker); rethrows. */
function rekeyRefused(c: Ctx, key: KeyRecord, e: unknown): never {
  const { st, corrId } = c;
  if (e instanceof JoinRefused) {
    c.m.authFailures.inc({ reason: e.reason });
    if (e.reason === "clone_suspected") {
      try {
        st.log.warn("rekey refused", { corr_id: corrId, reason: e.reason, key_id: key.id });
        st.audit.record({ actor: key.id, via: "worker", action: "clone_suspected", target: key.id, result: "denied", reason: e.reason, corr_id: corrId });
      } catch {}
    } else recordFailure(st, { action: "rekey", reason: e.reason, peer: c.req.peer, corrId, keyId: key.id, target: key.id });
  }
  throw e;
}
