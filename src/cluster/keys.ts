/**
 * `RedisKeyMirror`: worker and admin key records in Redis, shared by every
 * daemon of the cluster (docs/CLUSTER.md §10), behind the `KeyMirror`
 * contract of src/broker/key-share.ts.
 *
 * `P w:KEYID` is a hash: `v` = the record's version (in clear), `s` = the
 * whole record (kind, name, tags, expiries, revocation, and every MAC and
 * encryption key: current, pending, previous, retired, superseded) as JSON,
 * **sealed** with associated data `key` ‖ key id ‖ version, so a record
 * does not open under another key id, and an older sealed record cannot be
 * passed off under a newer version. `P iw` (sorted set: key id → the time
 * the record may be dropped) lists them; both expire an hour after the key
 * expires (or would have, when it was revoked: a revocation is kept in
 * Redis for the rest of the key's life).
 *
 * Scripts: `key_put` (compare-and-set on the version), `key_get`, `key_all`;
 * the request replay-cache script (scripts.ts) also reads `P w:KEYID`, and
 * hands the sealed record back when its version is not the one the daemon
 * has cached (replay.ts).
 * @module
 */
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, toB64u, utf8, wipe } from "../crypto/index.ts";
import { ENDED_RECORD_KEEP_MS, type KeyMirror, type KeyRecord, type PendingKey, type StoredKey } from "../broker/index.ts";
import type { RedisConnection } from "./connection.ts";
import type { ClusterSeal } from "./sealing.ts";

/** `P w:ID` in one compare-and-set. ARGV[3..]: id, base version (0: none), new version, sealed, keep until (ms). → {'ok'} | {'conflict', v, s} */
export const KEY_PUT = `
local id = ARGV[3]
local k = P .. 'w:' .. id
local cur = redis.call('HMGET', k, 'v', 's')
if (cur[1] or '0') ~= ARGV[4] then return {'conflict', cur[1] or '0', cur[2] or ''} end
redis.call('HSET', k, 'v', ARGV[5], 's', ARGV[6])
redis.call('PEXPIREAT', k, ARGV[7])
redis.call('ZADD', P .. 'iw', ARGV[7], id)
return {'ok'}
`;

/** ARGV[3]: id. → {'ok', v, s} ('0', '' when there is none) */
export const KEY_GET = `
local cur = redis.call('HMGET', P .. 'w:' .. ARGV[3], 'v', 's')
return {'ok', cur[1] or '0', cur[2] or ''}
`;

/** → {'ok', {id, v, s, …}} of every stored record (entries past their time are dropped from the index). */
export const KEY_ALL = `
local idx = P .. 'iw'
redis.call('ZREMRANGEBYSCORE', idx, '-inf', NOW)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', idx, NOW, '+inf')) do
  local cur = redis.call('HMGET', P .. 'w:' .. id, 'v', 's')
  if cur[1] then out[#out + 1] = id; out[#out + 1] = cur[1]; out[#out + 1] = cur[2] end
end
return {'ok', out}
`;

export class RedisKeyMirror implements KeyMirror {
  constructor(
    private readonly _conn: RedisConnection,
    private readonly _seal: ClusterSeal,
  ) {}

  async put(rec: KeyRecord, base: number): Promise<StoredKey | null> {
    // A revoked record stays until the key would have ended anyway, so a daemon that never cached it still sees the revocation.
    const keep = Math.max(rec.expiresAt, rec.pending?.expiresAt ?? 0, rec.revokedAt ?? 0) + ENDED_RECORD_KEEP_MS;
    const r = (await this._conn.run("keyPut", [rec.id, base, rec.ver, this.seal(rec), keep])) as string[];
    return r[0] === "ok" ? null : this.open(rec.id, Number(r[1]), r[2]);
  }

  async get(id: string): Promise<StoredKey> {
    const r = (await this._conn.run("keyGet", [id])) as string[];
    return this.open(id, Number(r[1]), r[2]);
  }

  async all(): Promise<StoredKey[]> {
    const [, flat] = (await this._conn.run("keyAll", [])) as [string, string[]];
    const out: StoredKey[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push(this.open(flat[i], Number(flat[i + 1]), flat[i + 2]));
    return out;
  }

  /** The sealed record (version `rec.ver`). */
  seal(rec: KeyRecord): string {
    const plain = utf8(JSON.stringify(encodeKey(rec)));
    try {
      return this._seal.seal("key", `${rec.id}\0${rec.ver}`, plain);
    } finally {
      wipe(plain);
    }
  }

  /**
   * The record stored as version `ver` of `id` (null for version 0).
   * @throws HushError `internal` when it does not open under that id and version (changed, moved, or another cluster key).
   */
  open(id: string, ver: number, sealed: string): StoredKey {
    if (!Number.isSafeInteger(ver) || ver < 0) throw new HushError("internal", "a stored key record has a malformed version");
    if (ver === 0) return { ver: 0, rec: null };
    const plain = this._seal.open("key", `${id}\0${ver}`, sealed);
    try {
      const rec = decodeKey(JSON.parse(fromUtf8(plain)));
      if (rec.id !== id) throw new Error("id");
      rec.ver = ver;
      return { ver, rec };
    } catch (e) {
      if (e instanceof HushError) throw e;
      throw new HushError("internal", "a stored key record is malformed");
    } finally {
      wipe(plain);
    }
  }
}

const b = (k: Uint8Array | null): string | null => (k ? toB64u(k) : null);
const k = (s: string | null): Uint8Array | null => (s === null ? null : fromB64u(s));

/** The record as JSON (keys base64url); `lastSeenAt` stays with each daemon. */
function encodeKey(r: KeyRecord): unknown {
  const p = r.pending;
  return {
    id: r.id, kind: r.kind, name: r.name, tags: r.tags, via: r.via, token: r.tokenId ?? null,
    mac: b(r.macKey), enc: b(r.encKey), created: r.createdAt, expires: r.expiresAt, revoked: r.revokedAt,
    ttl: r.ttlMs, hard: r.hardExpiresAt, prevMac: b(r.prevMacKey), prevEnc: b(r.prevEncKey), prevUntil: r.prevUntil,
    retired: r.retiredMacKeys.map(toB64u), superseded: r.supersededMacKeys.map(toB64u),
    pending: p ? { mac: b(p.macKey), enc: b(p.encKey), expires: p.expiresAt, server: b(p.serverPublic), demanded: p.demanded, made: p.madeAt } : null,
    rotate: r.rekeyRequired, rekeys: r.rekeys,
  };
}

function decodeKey(j: any): KeyRecord {
  const p = j.pending;
  const pending: PendingKey | null = p ? { macKey: k(p.mac)!, encKey: k(p.enc)!, expiresAt: p.expires, serverPublic: k(p.server)!, demanded: p.demanded, madeAt: p.made } : null;
  if (j.kind !== "worker" && j.kind !== "admin") throw new Error("kind");
  return {
    id: j.id, kind: j.kind, name: j.name, tags: j.tags, via: j.via, ...(j.token ? { tokenId: j.token } : {}),
    macKey: k(j.mac) ?? new Uint8Array(32), encKey: k(j.enc) ?? new Uint8Array(32),
    createdAt: j.created, expiresAt: j.expires, revokedAt: j.revoked, lastSeenAt: null,
    ttlMs: j.ttl, hardExpiresAt: j.hard, prevMacKey: k(j.prevMac), prevEncKey: k(j.prevEnc), prevUntil: j.prevUntil,
    retiredMacKeys: j.retired.map(fromB64u), supersededMacKeys: j.superseded.map(fromB64u), pending,
    rekeyRequired: j.rotate, rekeys: j.rekeys, ver: 0,
  };
}
