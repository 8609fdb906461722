/**
 * `RedisTokenMirror`: join tokens in Redis, shared by every daemon of the
 * cluster (docs/CLUSTER.md §10), behind the `TokenMirror` contract of
 * src/broker/token-share.ts.
 *
 * `P t:TOKENID` is a hash: `s` = what never changes (PSK, tags, the joined
 * workers' key lifetime, creation, expiry, server key id) as JSON,
 * **sealed** with associated data `token` ‖ token id; in clear, the counts
 * a script changes: `u` uses left (`-1`: unlimited), `n` uses so far,
 * `r` revoked at (ms, `0`: not), `x` used up at (ms, `0`: not). `P it`
 * (sorted set: token id → the time the record may be dropped) lists them;
 * both go an hour after the token's expiry.
 *
 * The script that revokes a token or takes its last use deletes `s` in
 * the same step, and every script and daemon refuses a record without `s`
 * (an ended token), whatever its clear fields say: writing `r`, `u` or `x`
 * cannot bring a revoked or used-up token back. A use given back
 * (`token_refund`) after the last one was taken puts `s` back, sealed
 * again by the daemon that took it (it held the PSK for that join).
 *
 * Scripts: `token_put`, `token_get`, `token_all`, `token_spend` (one use
 * taken, or why not: a token with one use joins once in the cluster),
 * `token_refund`, `token_revoke`.
 * @module
 */
import { HushError } from "../errors.ts";
import { fromB64u, fromUtf8, toB64u, utf8, wipe } from "../crypto/index.ts";
import { ENDED_RECORD_KEEP_MS, type EndedToken, type TokenMirror, type TokenRecord, type TokenRefusal } from "../broker/index.ts";
import type { RedisConnection } from "./connection.ts";
import type { ClusterSeal } from "./sealing.ts";

const FIELDS = `'s', 'u', 'n', 'r', 'x'`;

/** ARGV[3..]: id, sealed, uses left, keep until (ms). */
export const TOKEN_PUT = `
local k = P .. 't:' .. ARGV[3]
redis.call('HSET', k, 's', ARGV[4], 'u', ARGV[5], 'n', '0', 'r', '0', 'x', '0')
redis.call('PEXPIREAT', k, ARGV[6])
redis.call('ZADD', P .. 'it', ARGV[6], ARGV[3])
return {'ok'}
`;

/** ARGV[3]: id. → {'ok', s, u, n, r, x} (u '': no record; s '': the token ended) */
export const TOKEN_GET = `
local r = redis.call('HMGET', P .. 't:' .. ARGV[3], ${FIELDS})
return {'ok', r[1] or '', r[2] or '', r[3] or '0', r[4] or '0', r[5] or '0'}
`;

/** → {'ok', {id, s, u, n, r, x, …}} (s '': the token ended) */
export const TOKEN_ALL = `
local idx = P .. 'it'
redis.call('ZREMRANGEBYSCORE', idx, '-inf', NOW)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', idx, NOW, '+inf')) do
  local r = redis.call('HMGET', P .. 't:' .. id, ${FIELDS})
  if r[2] then
    out[#out + 1] = id
    out[#out + 1] = r[1] or ''
    for i = 2, 5 do out[#out + 1] = r[i] or '0' end
  end
end
return {'ok', out}
`;

/**
 * ARGV[3]: id. One use taken: {'ok', u, n, x}, or {'unknown_token' |
 * 'revoked_token' | 'exhausted_token'}. A record without `s` is refused
 * whatever its clear fields say; taking the last use deletes `s`.
 */
export const TOKEN_SPEND = `
local k = P .. 't:' .. ARGV[3]
local r = redis.call('HMGET', k, 'u', 'n', 'r', 's')
if not r[1] then return {'unknown_token'} end
if r[3] ~= '0' then return {'revoked_token'} end
if not r[4] then return {'exhausted_token'} end
local u = tonumber(r[1])
if u == 0 then return {'exhausted_token'} end
local x = '0'
if u > 0 then
  u = u - 1
  if u == 0 then x = string.format('%.0f', NOW) end
end
local n = tonumber(r[2]) + 1
redis.call('HSET', k, 'u', tostring(u), 'n', tostring(n), 'x', x)
if u == 0 then redis.call('HDEL', k, 's') end
return {'ok', tostring(u), tostring(n), x}
`;

/**
 * ARGV[3..]: id, sealed ('' when this daemon does not hold the PSK). The
 * use `token_spend` took, given back; when it was the last one (no `s`,
 * no uses left, not revoked), `s` is put back from ARGV[4].
 */
export const TOKEN_REFUND = `
local k = P .. 't:' .. ARGV[3]
local r = redis.call('HMGET', k, 'u', 'n', 'r', 's')
if not r[1] then return {'ok'} end
local u = tonumber(r[1])
if not r[4] and u == 0 and r[3] == '0' and ARGV[4] ~= '' then redis.call('HSET', k, 's', ARGV[4]) end
if u >= 0 then u = u + 1 end
redis.call('HSET', k, 'u', tostring(u), 'n', tostring(math.max(0, tonumber(r[2]) - 1)), 'x', '0')
return {'ok'}
`;

/** ARGV[3..]: id, revoked at (ms). Deletes `s`: the PSK is gone from Redis. */
export const TOKEN_REVOKE = `
local k = P .. 't:' .. ARGV[3]
if redis.call('HGET', k, 'r') == '0' then redis.call('HSET', k, 'r', ARGV[4]) end
redis.call('HDEL', k, 's')
return {'ok'}
`;

export class RedisTokenMirror implements TokenMirror {
  constructor(
    private readonly _conn: RedisConnection,
    private readonly _seal: ClusterSeal,
  ) {}

  async put(t: TokenRecord): Promise<void> {
    await this._conn.run("tokenPut", [t.id, this._sealed(t, t.psk), t.usesLeft ?? -1, t.expiresAt + ENDED_RECORD_KEEP_MS]);
  }

  async get(id: string): Promise<TokenRecord | EndedToken | null> {
    const r = (await this._conn.run("tokenGet", [id])) as string[];
    return r[2] ? this._open(id, r.slice(1)) : null;
  }

  async all(): Promise<(TokenRecord | EndedToken)[]> {
    const [, flat] = (await this._conn.run("tokenAll", [])) as [string, string[]];
    const out: (TokenRecord | EndedToken)[] = [];
    for (let i = 0; i < flat.length; i += 6) out.push(this._open(flat[i], flat.slice(i + 1, i + 6)));
    return out;
  }

  async spend(id: string): Promise<{ usesLeft: number | null; uses: number; exhaustedAt: number | null } | TokenRefusal> {
    const r = (await this._conn.run("tokenSpend", [id])) as string[];
    if (r[0] !== "ok") return r[0] as TokenRefusal;
    const u = Number(r[1]);
    return { usesLeft: u < 0 ? null : u, uses: Number(r[2]), exhaustedAt: r[3] === "0" ? null : Number(r[3]) };
  }

  async refund(t: TokenRecord, psk: Uint8Array | null): Promise<void> {
    await this._conn.run("tokenRefund", [t.id, psk ? this._sealed(t, psk) : ""]);
  }

  async revoke(id: string, at: number): Promise<void> {
    await this._conn.run("tokenRevoke", [id, at]);
  }

  /** The immutable part of `t`, with `psk`, sealed under its id. */
  private _sealed(t: TokenRecord, psk: Uint8Array): string {
    const plain = utf8(JSON.stringify({ psk: toB64u(psk), tags: t.tags, wttl: t.workerTtlMs, created: t.createdAt, expires: t.expiresAt, sk: t.serverKeyId }));
    try {
      return this._seal.seal("token", t.id, plain);
    } finally {
      wipe(plain);
    }
  }

  /**
   * [s, u, n, r, x] → the record, or an ended token when `s` is gone
   * (revoked or used up, whatever the clear fields say).
   * @throws HushError `internal` when the sealed part does not open under this id.
   */
  private _open(id: string, [s, u, n, r, x]: string[]): TokenRecord | EndedToken {
    if (!s) {
      const at = Number(r !== "0" ? r : x);
      return { id, ended: r !== "0" ? "revoked_token" : "exhausted_token", uses: Number(n) || 0, at: Number.isSafeInteger(at) && at > 0 ? at : null };
    }
    const plain = this._seal.open("token", id, s);
    try {
      const j = JSON.parse(fromUtf8(plain));
      const left = Number(u);
      return {
        id, psk: fromB64u(j.psk), tags: j.tags, workerTtlMs: j.wttl, createdAt: j.created, expiresAt: j.expires, serverKeyId: j.sk,
        usesLeft: left < 0 ? null : left, uses: Number(n), revokedAt: r === "0" ? null : Number(r), exhaustedAt: x === "0" ? null : Number(x),
      };
    } catch {
      throw new HushError("internal", "a stored join token is malformed");
    } finally {
      wipe(plain);
    }
  }
}
