/**
 * Admin routes for join tokens and the server key's staged rotation.
 * A token string (it holds the PSK) is shown once, at creation.
 * @module
 */
import { HushError } from "../errors.ts";
import { encodeJoinToken, encodeServerPublic } from "../keys/index.ts";
import type { TokenRecord } from "../broker/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskOwner, maskToken } from "./masking.ts";

function mintToken(st: State, t: TokenRecord) {
  const sk = st.serverKeys.byId(t.serverKeyId)!;
  const token = encodeJoinToken({ tokenId: t.id, psk: t.psk, serverPublic: sk.publicKey, tlsPin: st.tlsPin });
  maskToken(st, t, token);
  return { ...st.tokens.info(t), server_key: encodeServerPublic(sk.publicKey), token };
}

/**
 * `GET /v1/admin/tokens[?all=1]`: the usable tokens; with `all=1` (or
 * `true`), also the ended ones still kept (an hour). Another `all` value is
 * `invalid_request`.
 */
export function tokensList(c: Ctx): Answer {
  const all = new URLSearchParams(c.search).get("all");
  if (all !== null && !/^(1|true|0|false)$/.test(all)) throw new HushError("invalid_request", "all must be 1, true, 0 or false");
  return ok({ tokens: c.st.tokens.list({ all: all === "1" || all === "true" }) });
}

/** `POST /v1/admin/tokens`: the token string (it holds the PSK) is in this answer only. */
export function tokensCreate(c: Ctx): Answer {
  const { st, actor } = c;
  const b = parseObject(c.body);
  const t = st.tokens.create(
    { ttlMs: optInt(b, "ttl_ms"), uses: b.uses, tags: b.tags, workerTtlMs: optInt(b, "worker_ttl_ms") },
    st.serverKeys.active.id,
  );
  st.log.info("join token created", { token_id: t.id, uses: t.usesLeft ?? "unlimited", tags: t.tags, actor });
  return ok(mintToken(st, t), 201);
}

/** `POST /v1/admin/tokens/{id}/revoke` */
export function tokenRevoke(c: Ctx): Answer {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "token id");
  const t = st.tokens.revoke(id);
  st.masker.release(maskOwner.token(t.id));
  st.log.info("join token revoked", { token_id: t.id, actor });
  return ok(st.tokens.info(t));
}

/** `POST /v1/admin/tokens/{id}/rotate`: the leaked-token story: a replacement with the same settings, the old one refused at once. */
export function tokenRotate(c: Ctx): Answer {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "token id");
  const old = st.tokens.get(id);
  if (!old) throw new HushError("not_found", `no token with id ${id}`);
  const status = st.tokens.info(old).status;
  if (status !== "active") throw new HushError("conflict", `token ${id} is ${status}; only an active token can be rotated (create a new one instead)`);
  const ttlMs = Math.max(1, old.expiresAt - old.createdAt);
  const t = st.tokens.create(
    { ttlMs, uses: old.usesLeft === null ? "unlimited" : Math.max(1, old.usesLeft), tags: old.tags, workerTtlMs: old.workerTtlMs },
    st.serverKeys.active.id,
  );
  st.tokens.revoke(old.id);
  st.masker.release(maskOwner.token(old.id));
  st.log.info("join token rotated", { token_id: t.id, replaces: old.id, actor });
  return ok({ ...mintToken(st, t), replaces: old.id }, 201);
}

function listKeys(st: State) {
  return { keys: st.serverKeys.list().map((k) => ({ id: k.id, state: k.state, created_at: k.created_at, public: encodeServerPublic(k.public) })) };
}

/** `GET /v1/admin/server-key` */
export function serverKeyList(c: Ctx): Answer {
  return ok(listKeys(c.st));
}

/** `POST /v1/admin/server-key/{prepare,activate,retire}`: the staged rotation. */
export function serverKeyStage(c: Ctx): Answer {
  const { st, actor } = c;
  const stage = c.parts[4];
  if (stage === "prepare") {
    const k = st.serverKeys.prepare();
    st.masker.add(k.secretKey, { owner: maskOwner.serverKey(k.id) });
    st.log.info("server key prepared", { server_key_id: k.id, actor });
  } else if (stage === "activate") {
    const k = st.serverKeys.activate();
    st.log.info("server key activated", { server_key_id: k.id, actor });
  } else if (stage === "retire") {
    const id = st.serverKeys.retire();
    const ended = st.tokens.list().filter((t) => t.server_key_id === id && t.revoked_at === null);
    const n = st.tokens.revokeForServerKey(id);
    st.masker.release(maskOwner.serverKey(id));
    for (const t of ended) st.masker.release(maskOwner.token(t.id));
    st.log.info("server key retired", { server_key_id: id, tokens_refused: n, actor });
  } else throw new HushError("invalid_request", "stage must be prepare, activate or retire");
  return ok(listKeys(st));
}
