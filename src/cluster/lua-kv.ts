/**
 * Lua for the Redis backend's KV keys and counters (docs/CLUSTER.md §3, §5):
 * the record format and the read, write, delete and listing scripts. The
 * prologue, the epoch check and the registry are in scripts.ts.
 *
 * A KV record `P k:ID` is the text `t c s sealed`: `t` the TTL the expiry
 * was last set from (ms; 0 = none), `c` the latest expiry a sliding read
 * may set (last write + maxTtlMs), `s` 1 when reads slide, then the sealed
 * value. Its Redis expiry (`PEXPIREAT`) is the key's expiry.
 * @module
 */

/** `kvread(id, slide)`: the sealed value and its expiry (-1 for none); slid first when asked and the key slides; nil when absent. */
export const KV_LIB = `
local function kvread(id, slide)
  local k = P .. 'k:' .. id
  local v = redis.call('GET', k)
  if not v then return nil end
  local t, c, s, sealed = string.match(v, '^(%d+) (%d+) ([01]) (.*)$')
  local e = redis.call('PEXPIRETIME', k)
  if slide and s == '1' and tonumber(t) > 0 and e >= 0 then
    local ne = math.min(NOW + tonumber(t), tonumber(c))
    if ne > e then
      redis.call('PEXPIREAT', k, ne); redis.call('ZADD', P .. 'ik', ne, id); e = ne
    end
  end
  return sealed, e
end
`;

/** ARGV[3..]: id, '1' to slide (a read) or '0' (ttl). → {'ok', sealed, expiry (-1 none), now} | {'none'} */
export const KV_GET = `
local sealed, e = kvread(ARGV[3], ARGV[4] == '1')
if not sealed then return {'none'} end
return {'ok', sealed, e, NOW}
`;

/**
 * ARGV[3..]: id, sealed value, sealed name, ttl ('' = keep, or the default), max items,
 * ttl required ('1'/'0'), expected ('' = any; '-' = must be absent; else the sealed value read),
 * default TTL (ms, 0 = none), slide ('' = keep, or the default; '0'/'1'), sliding by default ('0'/'1'),
 * max TTL (ms), if absent ('0'/'1').
 * → {'ok', expiry or -1} | {'exists', expiry or -1} | {'ttl_required'} | {'max_items'} | {'retry'}
 */
export const KV_SET = `
local id, val, name, ttl, max, req, expect = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9]
local deflt, slide, slidedef, maxttl, ifabsent = tonumber(ARGV[10]), ARGV[11], ARGV[12], tonumber(ARGV[13]), ARGV[14]
local k = P .. 'k:' .. id
local cur = redis.call('GET', k)
if cur and ifabsent == '1' then
  local e = redis.call('PEXPIRETIME', k)
  return {'exists', e}
end
local ct, cs, csealed
if cur then ct, cs, csealed = string.match(cur, '^(%d+) %d+ ([01]) (.*)$') end
if expect ~= '' and ((expect == '-' and cur) or (expect ~= '-' and csealed ~= expect)) then return {'retry'} end
local e, t
if ttl ~= '' then t = tonumber(ttl); e = NOW + t
elseif cur then
  t = tonumber(ct)
  e = redis.call('PEXPIRETIME', k)
  if e < 0 then e = NOEXP end
elseif deflt > 0 then t = deflt; e = NOW + t
elseif req == '1' then return {'ttl_required'}
else t = 0; e = NOEXP end
local s = slide
if s == '' then s = cs or slidedef end
if not cur and not reserve(max) then return {'max_items'} end
local rec = string.format('%.0f %.0f %s ', t, NOW + maxttl, s) .. val
if e == NOEXP then redis.call('SET', k, rec) else redis.call('SET', k, rec, 'PXAT', e) end
redis.call('ZADD', P .. 'ik', e, id)
if not cur then redis.call('HSET', P .. 'names', 'k:' .. id, name) end
if e == NOEXP then return {'ok', -1} end
return {'ok', e}
`;

/** ARGV[3..]: id. → {'ok', 0|1} */
export const KV_DEL = `
local id = ARGV[3]
local n = redis.call('DEL', P .. 'k:' .. id)
redis.call('ZREM', P .. 'ik', id)
redis.call('HDEL', P .. 'names', 'k:' .. id)
return {'ok', n}
`;

/** → {'ok', {field, sealed name, …}} of the live KV keys. */
export const KV_NAMES = `
local out = {}
local cursor = '0'
repeat
  local r = redis.call('HSCAN', P .. 'names', cursor, 'MATCH', 'k:*', 'COUNT', 1000)
  cursor = r[1]
  for i = 1, #r[2], 2 do
    local sc = redis.call('ZSCORE', P .. 'ik', string.sub(r[2][i], 3))
    if sc and tonumber(sc) > NOW then out[#out + 1] = r[2][i]; out[#out + 1] = r[2][i + 1] end
  end
until cursor == '0'
return {'ok', out}
`;
