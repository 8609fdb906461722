/**
 * The Lua scripts of the Redis backend (docs/CLUSTER.md §3, §5): one script
 * per state change, so each is applied whole or not at all. Every script
 * takes no KEYS (hush's keys are built from the prefix; Redis Cluster is not
 * supported) and `ARGV[1]` = prefix, `ARGV[2]` = the daemon's epoch; it
 * refuses with the error `HUSHEPOCH` when `P meta` holds another epoch (a
 * Redis that lost its state, §7), and takes the time from the Redis clock.
 *
 * Replies: a table whose first element is `ok` or an error word the store
 * maps to a `HushError` (`conflict`, `not_found`, `max_items`, …), then the
 * values. `REDIS_COMMANDS` is every command the scripts and the connection
 * use: the ACL user of hush needs exactly these (README "Several daemons").
 * @module
 */
import { CLAIM, HOLD_LIB, LOCK_ACQUIRE, LOCK_RELEASE, LOCK_RENEW, POOL_LEASE, POOL_LIB, POOL_RELEASE, POOL_RENEW, RELEASE_OWNER, STATS, SWEEP } from "./lua-holds.ts";
import { KV_DEL, KV_GET, KV_LIB, KV_NAMES, KV_SET } from "./lua-kv.ts";
import { KEY_ALL, KEY_GET, KEY_PUT } from "./keys.ts";
import { CRED_END, CRED_END_HOLDER, CRED_IN_USE, CRED_LIB, CRED_PEEK, CRED_RETURN, CRED_TAKE } from "./creds.ts";
import { TOKEN_ALL, TOKEN_GET, TOKEN_PUT, TOKEN_REFUND, TOKEN_REVOKE, TOKEN_SPEND } from "./tokens.ts";

/** Commands hush sends or calls from its scripts (for the ACL user). */
export const REDIS_COMMANDS = [
  "evalsha", "eval", "script|load", "ping", "hello", "auth", "info", "client|setname",
  "time", "exists", "get", "set", "del", "incr", "pexpireat", "pexpiretime",
  "hget", "hset", "hdel", "hmget", "hgetall", "hscan",
  "zadd", "zrem", "zcard", "zscore", "zrangebyscore", "zremrangebyscore",
  "sadd", "srem", "smembers",
] as const;

/** The ACL rule for the hush user: its key prefix and the commands above, nothing else. */
export function aclRule(prefix: string): string {
  return `~${prefix}* resetchannels -@all ${REDIS_COMMANDS.map((c) => "+" + c).join(" ")}`;
}

const PROLOGUE = `
local P, EPOCH = ARGV[1], ARGV[2]
if redis.call('HGET', P .. 'meta', 'epoch') ~= EPOCH then return redis.error_reply('HUSHEPOCH') end
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local NOEXP = 9007199254740991
local function purge(kind, limit)
  local idx = P .. 'i' .. kind
  local ids = redis.call('ZRANGEBYSCORE', idx, '-inf', NOW, 'LIMIT', 0, limit)
  for _, id in ipairs(ids) do
    redis.call('ZREM', idx, id)
    if kind ~= 'L' then redis.call('HDEL', P .. 'names', kind .. ':' .. id) end
  end
  return #ids
end
local function items()
  return redis.call('ZCARD', P .. 'ik') + redis.call('ZCARD', P .. 'il') + redis.call('ZCARD', P .. 'ic') + redis.call('ZCARD', P .. 'iL')
end
local function reserve(max)
  if items() < max then return true end
  purge('k', 1000); purge('l', 1000); purge('c', 1000); purge('p', 1000); purge('L', 1000)
  return items() < max
end
local function nexttok(hw)
  local tk = P .. 'tok'
  if redis.call('EXISTS', tk) == 0 then
    local base = NOW * 1000
    if hw > base then base = hw end
    redis.call('SET', tk, string.format('%.0f', base))
  end
  return redis.call('INCR', tk)
end
local function own(owner, member, e)
  if owner == '-' then return end
  local k = P .. 'o:' .. owner
  redis.call('SADD', k, member)
  if redis.call('PEXPIRETIME', k) < e then redis.call('PEXPIREAT', k, e) end
end
local function disown(owner, member)
  if owner ~= '-' then redis.call('SREM', P .. 'o:' .. owner, member) end
end
`;

/**
 * The request replay cache of one key id (PROTOCOL.md §3 step 7; same
 * semantics as NonceCache). ARGV[3..]: key id, nonce, entry expiry (ms),
 * now (the daemon's clock, ms), the key's share, and the version of the
 * key's record the daemon has cached ('' when it shares no keys).
 * → {'ok' | 'replay' | 'full', stored version, sealed record}: the record
 * (`P w:KEYID`, keys.ts) only when its version is not the cached one, so a
 * change made on another daemon reaches this one with no extra round trip.
 */
const REMEMBER = `
local k = P .. 'n:' .. ARGV[3]
local nonce, e, now, share = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function answer(r)
  if ARGV[8] == nil or ARGV[8] == '' then return {r} end
  local w = redis.call('HMGET', P .. 'w:' .. ARGV[3], 'v', 's')
  local v = w[1] or '0'
  if v == ARGV[8] then return {r, v} end
  return {r, v, w[2] or ''}
end
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. string.format('%.0f', now))
if redis.call('ZSCORE', k, nonce) then return answer('replay') end
if redis.call('ZCARD', k) >= share then return answer('full') end
redis.call('ZADD', k, e, nonce)
local keep = e + 60000
if redis.call('PEXPIRETIME', k) < keep then redis.call('PEXPIREAT', k, keep) end
return answer('ok')
`;

/**
 * Set up or read `P meta` (no epoch check: this is what makes the epoch).
 * ARGV[1] prefix, ARGV[2] a new epoch, ARGV[3] the key check, ARGV[4] '1'
 * when this daemon knew an earlier epoch (the new one follows a loss).
 * → {v, epoch, since, check, quiet, created (1|0)}
 */
const INIT = `
local P = ARGV[1]
local m = P .. 'meta'
local created = 0
if redis.call('EXISTS', m) == 0 then
  local T = redis.call('TIME')
  local now = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
  redis.call('HSET', m, 'v', '1', 'epoch', ARGV[2], 'since', string.format('%.0f', now), 'check', ARGV[3], 'quiet', ARGV[4])
  created = 1
end
local r = redis.call('HMGET', m, 'v', 'epoch', 'since', 'check', 'quiet')
r[6] = created
return r
`;

export interface Script {
  readonly name: string;
  readonly text: string;
}

const epochChecked = (name: string, ...parts: string[]): Script => ({ name, text: PROLOGUE + parts.join("\n") });

export const SCRIPTS = {
  init: { name: "init", text: INIT } as Script,
  kvGet: epochChecked("kv_get", KV_LIB, KV_GET),
  kvSet: epochChecked("kv_set", KV_SET),
  kvDel: epochChecked("kv_del", KV_DEL),
  kvNames: epochChecked("kv_names", KV_NAMES),
  claim: epochChecked("claim", KV_LIB, HOLD_LIB, CLAIM),
  lockAcquire: epochChecked("lock_acquire", HOLD_LIB, LOCK_ACQUIRE),
  lockRenew: epochChecked("lock_renew", HOLD_LIB, LOCK_RENEW),
  lockRelease: epochChecked("lock_release", LOCK_RELEASE),
  poolLease: epochChecked("pool_lease", POOL_LIB, POOL_LEASE),
  poolRenew: epochChecked("pool_renew", POOL_LIB, POOL_RENEW),
  poolRelease: epochChecked("pool_release", POOL_LIB, POOL_RELEASE),
  releaseOwner: epochChecked("release_owner", POOL_LIB, RELEASE_OWNER),
  sweep: epochChecked("sweep", SWEEP),
  stats: epochChecked("stats", STATS),
  remember: epochChecked("remember", REMEMBER),
  keyPut: epochChecked("key_put", KEY_PUT),
  keyGet: epochChecked("key_get", KEY_GET),
  keyAll: epochChecked("key_all", KEY_ALL),
  tokenPut: epochChecked("token_put", TOKEN_PUT),
  tokenGet: epochChecked("token_get", TOKEN_GET),
  tokenAll: epochChecked("token_all", TOKEN_ALL),
  tokenSpend: epochChecked("token_spend", TOKEN_SPEND),
  tokenRefund: epochChecked("token_refund", TOKEN_REFUND),
  tokenRevoke: epochChecked("token_revoke", TOKEN_REVOKE),
  credTake: epochChecked("cred_take", CRED_LIB, CRED_TAKE),
  credPeek: epochChecked("cred_peek", CRED_LIB, CRED_PEEK),
  credReturn: epochChecked("cred_return", CRED_LIB, CRED_RETURN),
  credEndHolder: epochChecked("cred_end_holder", CRED_LIB, CRED_END_HOLDER),
  credEnd: epochChecked("cred_end", CRED_LIB, CRED_END),
  credInUse: epochChecked("cred_in_use", CRED_IN_USE),
} as const;

export type ScriptName = keyof typeof SCRIPTS;
