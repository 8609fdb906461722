/**
 * Worker routes (PROTOCOL.md §8): KV, counters, claims, locks, pools, whoami
 * (rows in routes.ts). Each handler turns a verified request into one
 * state-backend call (one atomic step) and a JSON answer: at once for the
 * in-memory backend, once it resolves for a shared one (`after`,
 * src/broker/backend.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { fromUtf8, utf8 } from "../crypto/index.ts";
import { after, type ClaimAnswer, type KvRead } from "../broker/index.ts";
import { encodeServerPublic } from "../keys/index.ts";
import { type Answer, decodeSegment, ok, optBool, optInt, optString, optTtl, parseObject, reqInt } from "./http.ts";
import type { Ctx } from "./pipeline.ts";

/** `GET /v1/whoami` (any key, even while a rekey is required). */
export function whoami(c: Ctx): Answer {
  const k = c.key!;
  return ok({
    id: k.id,
    name: k.name,
    kind: k.kind,
    tags: k.tags,
    expires_at: k.expiresAt,
    rekey_required: k.rekeyRequired,
    // The server's active public key: the one a rekeying worker addresses.
    server_public: encodeServerPublic(c.st.serverKeys.active.publicKey),
  });
}

/** `GET /v1/kv?prefix=P` */
export function kvList(c: Ctx): Answer | Promise<Answer> {
  const q = new URLSearchParams(c.search);
  const limit = q.get("limit");
  if (limit !== null && !/^[1-9][0-9]{0,8}$/.test(limit)) throw new HushError("invalid_request", "limit must be a positive integer");
  // The key pays for what it lists from its listing budget (--list-rate).
  return after(c.st.store.listPage(q.get("prefix") ?? "", { limit: limit === null ? undefined : Number(limit), cursor: q.get("cursor") ?? undefined, owner: c.key!.id }), ok);
}

/** `GET /v1/kv/{key}` (a sliding key's expiry moves). */
export function kvGet(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.store.get(decodeSegment(c.parts[3], "key")), kvGetAnswer);
}

/** Splice the stored JSON bytes straight into the answer: no re-serialising. */
function kvGetAnswer(r: KvRead): Answer {
  return { status: 200, body: `{"value":${fromUtf8(r.valueJson)},"expires_at":${r.expires_at}}` };
}

/** `GET /v1/kv/{key}/ttl` */
export function kvTtl(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.store.ttl(decodeSegment(c.parts[3], "key")), ok);
}

/** `PUT /v1/kv/{key}`: `{value, ttl_ms?, if_absent?, slide?}` */
export function kvPut(c: Ctx): Answer | Promise<Answer> {
  const key = decodeSegment(c.parts[3], "key");
  const b = parseObject(c.body);
  if (!("value" in b) || b.value === undefined) throw new HushError("invalid_request", "value is required");
  const opts = { ttlMs: optTtl(b), ifAbsent: optBool(b, "if_absent"), slide: optBool(b, "slide") };
  // The backend owns the bytes from here: it keeps them, or zero-fills them.
  return after(c.st.store.set(key, utf8(JSON.stringify(b.value)), opts), ok);
}

/** `POST /v1/kv/{key}/claim`: the value, or a claim to make it (getOrSet). */
export function kvClaim(c: Ctx): Answer | Promise<Answer> {
  const key = decodeSegment(c.parts[3], "key");
  return after(c.st.store.claimKey(key, optTtl(parseObject(c.body)), c.key!.id), kvClaimAnswer);
}

function kvClaimAnswer(r: ClaimAnswer): Answer {
  if (r.state === "claimed") return ok(r);
  return { status: 200, body: `{"state":"value","value":${fromUtf8(r.valueJson)},"expires_at":${r.expires_at}}` };
}

/** `POST /v1/kv/{key}/claim/renew` */
export function kvClaimRenew(c: Ctx): Answer | Promise<Answer> {
  const key = decodeSegment(c.parts[3], "key");
  const b = parseObject(c.body);
  return after(c.st.store.renewClaim(key, reqInt(b, "token"), optTtl(b), c.key!.id), ok);
}

/** `POST /v1/kv/{key}/claim/release` */
export function kvClaimRelease(c: Ctx): Answer | Promise<Answer> {
  const key = decodeSegment(c.parts[3], "key");
  return after(c.st.store.releaseClaim(key, reqInt(parseObject(c.body), "token"), c.key!.id), ok);
}

/** `DELETE /v1/kv/{key}` */
export function kvDelete(c: Ctx): Answer | Promise<Answer> {
  return after(c.st.store.del(decodeSegment(c.parts[3], "key")), ok);
}

/** `POST /v1/kv/{key}/incr` */
export function kvIncr(c: Ctx): Answer | Promise<Answer> {
  const key = decodeSegment(c.parts[3], "key");
  const b = parseObject(c.body);
  return after(c.st.store.incr(key, optInt(b, "by") ?? 1, optTtl(b)), ok);
}

// A lock or a pool slot answers only to the key that took it (its id is the owner).

/** `POST /v1/locks/{name}`: acquire; the answer carries the fencing token. */
export function lockAcquire(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "lock name");
  const b = parseObject(c.body);
  return after(c.st.store.acquireLock(name, optTtl(b), optString(b, "holder"), c.key!.id), ok);
}

/** `POST /v1/locks/{name}/renew` */
export function lockRenew(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "lock name");
  const b = parseObject(c.body);
  return after(c.st.store.renewLock(name, reqInt(b, "token"), optTtl(b), c.key!.id), ok);
}

/** `POST /v1/locks/{name}/release` */
export function lockRelease(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "lock name");
  const b = parseObject(c.body);
  return after(c.st.store.releaseLock(name, reqInt(b, "token"), c.key!.id), ok);
}

/** `POST /v1/pools/{name}/lease` */
export function poolLease(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "pool name");
  const b = parseObject(c.body);
  const opts = { onePerHolder: optBool(b, "one_per_holder") };
  return after(c.st.store.leasePool(name, reqInt(b, "size"), optTtl(b), optString(b, "holder"), c.key!.id, opts), ok);
}

/** `POST /v1/pools/{name}/renew` */
export function poolRenew(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "pool name");
  const b = parseObject(c.body);
  return after(c.st.store.renewPool(name, reqInt(b, "token"), optTtl(b), c.key!.id), ok);
}

/** `POST /v1/pools/{name}/release` */
export function poolRelease(c: Ctx): Answer | Promise<Answer> {
  const name = decodeSegment(c.parts[3], "pool name");
  const b = parseObject(c.body);
  return after(c.st.store.releasePool(name, reqInt(b, "token"), c.key!.id), ok);
}
