/**
 * `RedisCredLeases`: the leases of credentials in Redis, shared by every
 * daemon of the cluster (docs/CLUSTER.md §10), behind the `CredLeaseBook`
 * contract of src/broker/creds.ts. The values never enter Redis: each
 * daemon holds them (from the same `--creds-file`); Redis holds which
 * value of which credential is leased, to whom and until when.
 *
 * Layout (`ID` = the credential's name id, HMAC under the cluster key with
 * kind `cred`; `LEASE` = the lease id; `KEYID` = the holder's worker key id):
 *
 * - `P cr:ID` hash: `sN` = `LEASE expiry` for each leased value N of an
 *   exclusive credential;
 * - `P cu:ID` sorted set: every lease of the credential (member LEASE,
 *   score expiry; `in_use`);
 * - `P cL:LEASE` hash: `c` ID, `s` slot (`-1` shared), `h` KEYID, `x` expiry;
 * - `P cw:KEYID` sorted set: the holder's leases (its cap, its revocation).
 *
 * Every key carries a Redis expiry at its latest lease's, so nothing
 * outlives the leases even when no daemon runs. Scripts: `cred_take` (a
 * free value taken, or `conflict` with the next expiry, or `max_items`
 * at the holder's cap), `cred_peek`, `cred_return`, `cred_end_holder`,
 * `cred_end`, `cred_in_use`.
 * @module
 */
import { HushError } from "../errors.ts";
import type { CredLeaseBook, SharedLease } from "../broker/index.ts";
import type { RedisConnection } from "./connection.ts";
import type { ClusterSeal } from "./sealing.ts";

/** End one lease (its holder checked by the caller). */
export const CRED_LIB = `
local function later(k, e)
  if redis.call('PEXPIRETIME', k) < e then redis.call('PEXPIREAT', k, e) end
end
local function endlease(lid)
  local lk = P .. 'cL:' .. lid
  local r = redis.call('HMGET', lk, 'c', 's', 'h', 'x')
  if not r[1] then return nil end
  if r[2] ~= '-1' then
    local ck = P .. 'cr:' .. r[1]
    local v = redis.call('HGET', ck, 's' .. r[2])
    if v and string.sub(v, 1, #lid + 1) == lid .. ' ' then redis.call('HDEL', ck, 's' .. r[2]) end
  end
  redis.call('ZREM', P .. 'cu:' .. r[1], lid)
  redis.call('ZREM', P .. 'cw:' .. r[3], lid)
  redis.call('DEL', lk)
  return r
end
local function live(lid, holder)
  local r = redis.call('HMGET', P .. 'cL:' .. lid, 'c', 'h', 'x')
  if not r[1] or tonumber(r[3]) <= NOW then return nil, {'not_found'} end
  if r[2] ~= holder then return nil, {'forbidden'} end
  return r, nil
end
`;

/** ARGV[3..]: cred id, values (0: shared), holder, ttl, lease id, the holder's cap. → {'ok', slot, expiry} | {'conflict', next expiry} | {'max_items'} */
export const CRED_TAKE = `
local id, n, h, ttl, lid, max = ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local ck, uk, wk = P .. 'cr:' .. id, P .. 'cu:' .. id, P .. 'cw:' .. h
redis.call('ZREMRANGEBYSCORE', uk, '-inf', NOW)
redis.call('ZREMRANGEBYSCORE', wk, '-inf', NOW)
local slot = -1
if n > 0 then
  local nxt = nil
  for i = 0, n - 1 do
    local v = redis.call('HGET', ck, 's' .. i)
    local x = v and tonumber(string.match(v, ' (%d+)$')) or 0
    if x <= NOW then slot = i break end
    if not nxt or x < nxt then nxt = x end
  end
  if slot < 0 then return {'conflict', nxt} end
end
if redis.call('ZCARD', wk) >= max then return {'max_items'} end
local e = NOW + ttl
local es = string.format('%.0f', e)
if slot >= 0 then
  redis.call('HSET', ck, 's' .. slot, lid .. ' ' .. es)
  later(ck, e)
end
local lk = P .. 'cL:' .. lid
redis.call('HSET', lk, 'c', id, 's', slot, 'h', h, 'x', es)
redis.call('PEXPIREAT', lk, e)
redis.call('ZADD', uk, e, lid)
later(uk, e)
redis.call('ZADD', wk, e, lid)
later(wk, e)
return {'ok', slot, e}
`;

/** ARGV[3..]: lease id, holder. → {'ok', cred id} | {'not_found'} | {'forbidden'} */
export const CRED_PEEK = `
local r, err = live(ARGV[3], ARGV[4])
if err then return err end
return {'ok', r[1]}
`;

/** ARGV[3..]: lease id, holder. The lease ended. → as CRED_PEEK */
export const CRED_RETURN = `
local r, err = live(ARGV[3], ARGV[4])
if err then return err end
endlease(ARGV[3])
return {'ok', r[1]}
`;

/** ARGV[3]: holder. Every lease of the holder ended. → {'ok', {lease id, cred id, …}} (the live ones) */
export const CRED_END_HOLDER = `
local wk = P .. 'cw:' .. ARGV[3]
local out = {}
for _, lid in ipairs(redis.call('ZRANGEBYSCORE', wk, '-inf', '+inf')) do
  local r = endlease(lid)
  if r and tonumber(r[4]) > NOW then out[#out + 1] = lid; out[#out + 1] = r[1] end
end
redis.call('DEL', wk)
return {'ok', out}
`;

/** ARGV[3]: cred id. Every lease of the credential ended (it was replaced or deleted). */
export const CRED_END = `
for _, lid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'cu:' .. ARGV[3], '-inf', '+inf')) do endlease(lid) end
redis.call('DEL', P .. 'cu:' .. ARGV[3], P .. 'cr:' .. ARGV[3])
return {'ok'}
`;

/** ARGV[3..]: cred ids. → {'ok', {live leases of each}} */
export const CRED_IN_USE = `
local out = {}
for i = 3, #ARGV do
  local uk = P .. 'cu:' .. ARGV[i]
  redis.call('ZREMRANGEBYSCORE', uk, '-inf', NOW)
  out[#out + 1] = redis.call('ZCARD', uk)
end
return {'ok', out}
`;

const ERRORS: Record<string, () => HushError> = {
  not_found: () => new HushError("not_found", "no such lease"),
  forbidden: () => new HushError("forbidden", "this lease belongs to another worker"),
};

export class RedisCredLeases implements CredLeaseBook {
  readonly kind = "redis";

  constructor(
    private readonly _conn: RedisConnection,
    private readonly _seal: ClusterSeal,
  ) {}

  idOf(name: string): string {
    return this._seal.id("cred", name);
  }

  async take(name: string, values: number, holder: string, ttlMs: number, leaseId: string, maxPerHolder: number): Promise<SharedLease> {
    const r = (await this._conn.run("credTake", [this.idOf(name), values, holder, ttlMs, leaseId, maxPerHolder])) as [string, number?, number?];
    if (r[0] === "conflict") throw new HushError("conflict", "every value of this credential is checked out");
    if (r[0] === "max_items") throw new HushError("max_items", "this worker holds its most live credential leases; return some first");
    return { leaseId, slot: Number(r[1]), expiresAt: Number(r[2]) };
  }

  async peek(leaseId: string, holder: string): Promise<string> {
    return this._leaseCall("credPeek", leaseId, holder);
  }

  async giveBack(leaseId: string, holder: string): Promise<string> {
    return this._leaseCall("credReturn", leaseId, holder);
  }

  async endHolder(holder: string): Promise<{ leaseId: string; credId: string }[]> {
    const [, flat] = (await this._conn.run("credEndHolder", [holder])) as [string, string[]];
    const out: { leaseId: string; credId: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ leaseId: flat[i], credId: flat[i + 1] });
    return out;
  }

  async endCred(name: string): Promise<void> {
    await this._conn.run("credEnd", [this.idOf(name)]);
  }

  async inUse(names: string[]): Promise<number[]> {
    if (names.length === 0) return [];
    const [, counts] = (await this._conn.run("credInUse", names.map((n) => this.idOf(n)))) as [string, number[]];
    return counts.map(Number);
  }

  private async _leaseCall(script: "credPeek" | "credReturn", leaseId: string, holder: string): Promise<string> {
    const r = (await this._conn.run(script, [leaseId, holder])) as string[];
    if (r[0] !== "ok") throw (ERRORS[r[0]] ?? (() => new HushError("internal", "unexpected answer from the state backend")))();
    return r[1];
  }
}
