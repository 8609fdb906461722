/**
 * `POST /v1/join` (PROTOCOL.md §5): the Noise NKpsk0 responder, and the
 * message checks it shares with rekey (rekey.ts, §6). Any failure answers
 * the generic `auth_failed`; the precise reason is returned to the caller
 * for logs, metrics and audit.
 *
 * Invariants: tags come from the token, never from the worker; a token use
 * is spent only by a completed handshake; a message-1 ephemeral key is
 * accepted once inside the timestamp window.
 * @module
 */
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, toB64u, utf8, wipe } from "../crypto/index.ts";
import { createResponder } from "../noise/index.ts";
import { after, validateWorkerName, type Awaitable, type KeyRecord, type TokenRecord } from "../broker/index.ts";
import type { State } from "./state.ts";
import { ok, parseObject, type Answer } from "./http.ts";
import { maskHandshakeCredential, maskOwner } from "./masking.ts";
import type { Ctx } from "./pipeline.ts";
import { recordFailure } from "./failures.ts";
import { requireAudit, runChange } from "./change.ts";

/** A refused handshake: the client sees auth_failed, logs see `reason`. */
export class JoinRefused extends HushError {
  constructor(readonly reason: string) {
    super("auth_failed", "authentication failed");
  }
}

const MAX_MSG_B64 = 1024;

/** The `{token_id?, msg}` body of a join or rekey (`invalid_request` when malformed). */
export function readMessage(body: Uint8Array, withToken: boolean): { tokenId: string; msg: Uint8Array } {
  const b = parseObject(body);
  const tokenId = b.token_id;
  if (withToken && (typeof tokenId !== "string" || !/^t_[A-Za-z0-9_-]{12}$/.test(tokenId))) {
    throw new HushError("invalid_request", "token_id must look like t_XXXXXXXXXXXX");
  }
  if (typeof b.msg !== "string" || b.msg.length > MAX_MSG_B64) throw new HushError("invalid_request", "msg must be a base64url string");
  let msg: Uint8Array;
  try {
    msg = fromB64u(b.msg);
  } catch {
    throw new HushError("invalid_request", "msg is not valid base64url");
  }
  return { tokenId: (tokenId as string) ?? "", msg };
}

/**
 * Check message-1 payload freshness and that its ephemeral key is new (in
 * the whole cluster, on a shared backend: the answer is then a promise).
 */
export function checkFresh(st: State, payload: Uint8Array, ephemeral: Uint8Array): Awaitable<Record<string, unknown>> {
  let p: any;
  try {
    p = JSON.parse(fromUtf8(payload));
  } catch {
    throw new JoinRefused("bad_payload");
  }
  if (typeof p !== "object" || p === null || typeof p.ts !== "number") throw new JoinRefused("bad_payload");
  const now = Date.now();
  if (Math.abs(now - p.ts) > st.config.clockWindowMs) throw new JoinRefused("stale_timestamp");
  return after(st.handshakeReplay.remember("e", toB64u(ephemeral), p.ts, now), (r) => {
    if (r === "replay") throw new JoinRefused("replayed_message");
    if (r === "full") throw new HushError("busy", "handshake replay cache full, try again");
    return p as Record<string, unknown>;
  });
}

/**
 * A join: the handshake checked (every refusal before anything changes),
 * then a recorded change (src/server/change.ts): the token's use is taken
 * (in the backend, for a token shared by several daemons) and the key is
 * made; if the change cannot be recorded, both are taken back; the token
 * use is final once recorded.
 */
export function handleJoin(c: Ctx, body: Uint8Array, source: string): Answer | Promise<Answer> {
  const st = c.st;
  // Per source, per network, then global (src/server/joinlimit.ts).
  const wait = st.joinLimits.take(source);
  if (wait > 0) throw new HushError("rate_limited", "too many join attempts", { retryAfter: wait });
  // A join mints a credential: not while the audit log cannot record it.
  requireAudit(st.audit);
  const { tokenId, msg } = readMessage(body, true);
  return after(st.tokens.lookup(tokenId), (t) => {
    if (typeof t === "string") throw new JoinRefused(t);
    return joinWith(c, t, msg);
  }) as Answer | Promise<Answer>;
}

function joinWith(c: Ctx, t: TokenRecord, msg: Uint8Array): Answer | Promise<Answer> {
  const st = c.st;
  const tokenId = t.id;
  const sk = st.serverKeys.byId(t.serverKeyId);
  if (!sk) throw new JoinRefused("retired_server_key");
  const responder = createResponder({ staticKey: sk, psk: t.psk, prologue: utf8(`hush/1 join\n${tokenId}`) });
  let m1: { payload: Uint8Array; remoteEphemeral: Uint8Array };
  try {
    m1 = responder.readMessage1(msg);
  } catch {
    throw new JoinRefused("handshake_failed");
  }
  return after(checkFresh(st, m1.payload, m1.remoteEphemeral), (p) => {
    let name: string;
    try {
      name = validateWorkerName(p.name);
    } catch {
      throw new JoinRefused("bad_payload");
    }
    const id = st.registry.allocateId("worker");
    const now = Date.now();
    const expiresAt = now + t.workerTtlMs;
    // Tags come from the token only; anything else in the payload is ignored.
    const reply = { id, expires_at: expiresAt, tags: t.tags, server_time: now };
    const m2 = responder.writeMessage2(utf8(JSON.stringify(reply)));
    const macKey = m2.c1.key;
    const encKey = m2.c2.key;
    m2.c1.wipe();
    m2.c2.wipe();
    return runChange(c, {
      via: "join",
      apply: () =>
        after(st.tokens.reserve(t), (refused): Awaitable<KeyRecord> => {
          if (refused) {
            wipe(macKey, encKey);
            throw new JoinRefused(refused);
          }
          try {
            return st.registry.create({ kind: "worker", name, tags: t.tags, ttlMs: t.workerTtlMs, via: "join", tokenId, macKey, encKey, id });
          } catch (e) {
            wipe(macKey, encKey);
            return after(st.tokens.refund(t), (): KeyRecord => {
              throw e;
            });
          }
        }) as Awaitable<KeyRecord>,
      undo: (rec) => {
        st.registry.discard(rec.id);
        return st.tokens.refund(t) ?? undefined;
      },
      log: () => st.log.info("worker joined", { worker: id, name, token_id: tokenId }),
      records: () => [{ actor: id, action: "join", target: tokenId }],
      commit: (rec) => {
        st.tokens.spend(t);
        maskHandshakeCredential(st, rec, sk.publicKey);
        if (t.usesLeft === 0) st.masker.release(maskOwner.token(t.id));
        c.m.joins.inc({ result: "ok" });
      },
      answer: () => ok({ msg: toB64u(m2.message) }),
    });
  }) as Answer | Promise<Answer>;
}

/** `POST /v1/join` (role `join`): unsigned; counted in `hush_joins_total{result}` and audited either way (refusals: handshake, rate limit, no room for the key). */
export function joinRoute(c: Ctx): Answer | Promise<Answer> {
  try {
    const a = handleJoin(c, c.body, c.req.peer);
    return a instanceof Promise ? a.catch((e) => joinRefused(c, e)) : a;
  } catch (e) {
    return joinRefused(c, e);
  }
}

/** Count and account a refused join (src/server/failures.ts bounds the lines it causes); rethrows. */
function joinRefused(c: Ctx, e: unknown): never {
  const { m } = c;
  let reason: string | undefined;
  if (e instanceof JoinRefused) {
    m.joins.inc({ result: "refused" });
    m.authFailures.inc({ reason: e.reason });
    reason = e.reason;
  } else if (e instanceof HushError && e.code === "rate_limited") {
    m.joins.inc({ result: "rate_limited" });
    m.rejected.inc({ reason: "join_rate" });
    reason = "rate_limited";
  } else if (e instanceof HushError && e.code === "max_items") {
    // No room for another live worker key (--max-workers); no token use was spent.
    m.joins.inc({ result: "max_items" });
    reason = "max_items";
  }
  if (reason) recordFailure(c.st, { action: "join", reason, peer: c.req.peer, corrId: c.corrId });
  throw e;
}
