/**
 * Admin routes for join tokens and the server key's staged rotation.
 * A token string (it holds the PSK) is shown once, at creation.
 * @module
 */
import { HushError } from "../errors.ts";
import { encodeJoinToken, encodeServerPublic } from "../keys/index.ts";
import { after, type Awaitable, type TokenRecord, type TokenSettings } from "../broker/index.ts";
import type { State } from "./state.ts";
import { type Answer, decodeSegment, ok, optInt, parseObject } from "./http.ts";
import type { Ctx } from "./pipeline.ts";
import { maskOwner, maskToken } from "./masking.ts";
import { runChange } from "./change.ts";
import { adminRecord } from "./routes-admin.ts";

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
export function tokensList(c: Ctx): Answer | Promise<Answer> {
  const all = new URLSearchParams(c.search).get("all");
  if (all !== null && !/^(1|true|0|false)$/.test(all)) throw new HushError("invalid_request", "all must be 1, true, 0 or false");
  return after(c.st.tokens.refresh(), () => ok({ tokens: c.st.tokens.list({ all: all === "1" || all === "true" }) }));
}

/** A new token, minted (its string registered with the masker); taken back whole if minting fails. */
function newToken(st: State, settings: TokenSettings): { t: TokenRecord; minted: ReturnType<typeof mintToken> } {
  const t = st.tokens.create(settings, st.serverKeys.active.id);
  try {
    return { t, minted: mintToken(st, t) };
  } catch (e) {
    dropToken(st, t);
    throw e;
  }
}

/** Token `id` as it is now: read from a shared backend (another daemon may have changed it), else this daemon's. */
function currentToken(st: State, id: string): Awaitable<TokenRecord | undefined> {
  return st.tokens.fetch(id) ?? st.tokens.get(id);
}

/** Take back a token that was never shown. */
function dropToken(st: State, t: TokenRecord): void {
  st.masker.release(maskOwner.token(t.id));
  st.tokens.discard(t.id);
}

/** `POST /v1/admin/tokens`: the token string (it holds the PSK) is in this answer only. */
export function tokensCreate(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const b = parseObject(c.body);
  return runChange(c, {
    apply: () => newToken(st, { ttlMs: optInt(b, "ttl_ms"), uses: b.uses, tags: b.tags, workerTtlMs: optInt(b, "worker_ttl_ms") }),
    undo: ({ t }) => dropToken(st, t),
    log: ({ t }) => st.log.info("join token created", { token_id: t.id, uses: t.usesLeft ?? "unlimited", tags: t.tags, actor }),
    records: ({ t }) => [adminRecord(c, t.id)],
    answer: ({ minted }) => ok(minted, 201),
  });
}

/** `POST /v1/admin/tokens/{id}/revoke`: recorded first, then revoked (its PSK wiped). */
export function tokenRevoke(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "token id");
  return runChange(c, {
    apply: () =>
      after(currentToken(st, id), (t) => {
        if (!t) throw new HushError("not_found", `no token with id ${id}`);
        return t;
      }),
    log: (t) => st.log.info("join token revoked", { token_id: t.id, actor }),
    records: () => [adminRecord(c)],
    commit: (t) => {
      st.tokens.revoke(t.id);
      st.masker.release(maskOwner.token(t.id));
    },
    answer: (t) => ok(st.tokens.info(t)),
  });
}

/** `POST /v1/admin/tokens/{id}/rotate`: the leaked-token story: a replacement with the same settings, the old one refused at once. */
export function tokenRotate(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const id = decodeSegment(c.parts[4], "token id");
  return runChange(c, {
    apply: () =>
      after(currentToken(st, id), (old) => {
        if (!old) throw new HushError("not_found", `no token with id ${id}`);
        const status = st.tokens.info(old).status;
        if (status !== "active") throw new HushError("conflict", `token ${id} is ${status}; only an active token can be rotated (create a new one instead)`);
        const ttlMs = Math.max(1, old.expiresAt - old.createdAt);
        const uses = old.usesLeft === null ? ("unlimited" as const) : Math.max(1, old.usesLeft);
        return { old, ...newToken(st, { ttlMs, uses, tags: old.tags, workerTtlMs: old.workerTtlMs }) };
      }),
    undo: ({ t }) => dropToken(st, t),
    log: ({ t, old }) => st.log.info("join token rotated", { token_id: t.id, replaces: old.id, actor }),
    records: () => [adminRecord(c)],
    commit: ({ old }) => {
      st.tokens.revoke(old.id);
      st.masker.release(maskOwner.token(old.id));
    },
    answer: ({ minted, old }) => ok({ ...minted, replaces: old.id }, 201),
  });
}

function listKeys(st: State) {
  return { keys: st.serverKeys.list().map((k) => ({ id: k.id, state: k.state, created_at: k.created_at, public: encodeServerPublic(k.public) })) };
}

/** `GET /v1/admin/server-key` */
export function serverKeyList(c: Ctx): Answer {
  return ok(listKeys(c.st));
}

/**
 * `POST /v1/admin/server-key/{prepare,activate,retire}`: the staged
 * rotation. Prepare and activate are taken back if they cannot be
 * recorded; retire (which wipes the key and refuses its tokens) is recorded
 * first.
 */
export function serverKeyStage(c: Ctx): Answer | Promise<Answer> {
  const { st, actor } = c;
  const stage = c.parts[4];
  const sk = st.serverKeys;
  const answer = () => ok(listKeys(st));
  const records = () => [adminRecord(c)];
  if (stage === "prepare") {
    return runChange(c, {
      apply: () => {
        const k = sk.prepare();
        st.masker.add(k.secretKey, { owner: maskOwner.serverKey(k.id) });
        return k;
      },
      undo: (k) => {
        st.masker.release(maskOwner.serverKey(k.id));
        sk.discardPrepared(k.id);
      },
      log: (k) => st.log.info("server key prepared", { server_key_id: k.id, actor }),
      records,
      answer,
    });
  }
  if (stage === "activate") {
    return runChange(c, {
      apply: () => sk.activate(),
      undo: () => sk.deactivate(),
      log: (k) => st.log.info("server key activated", { server_key_id: k.id, actor }),
      records,
      answer,
    });
  }
  if (stage === "retire") {
    return runChange(c, {
      apply: () => sk.previous().id,
      log: (id) => st.log.info("server key retired", { server_key_id: id, tokens_refused: st.tokens.list().filter((t) => t.server_key_id === id && t.revoked_at === null).length, actor }),
      records,
      commit: (id) => {
        const ended = st.tokens.list().filter((t) => t.server_key_id === id && t.revoked_at === null);
        sk.retire();
        st.tokens.revokeForServerKey(id);
        st.masker.release(maskOwner.serverKey(id));
        for (const t of ended) st.masker.release(maskOwner.token(t.id));
      },
      answer,
    });
  }
  throw new HushError("invalid_request", "stage must be prepare, activate or retire");
}
