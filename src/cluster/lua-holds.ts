/**
 * Lua for the Redis backend's holds (docs/CLUSTER.md §3, §5): locks and KV
 * claims (one lock table each: `P l:ID` and `P c:ID`, indexes `P il` and
 * `P ic`), lease pools (`P p:ID`, index `P ip`, every live lease in
 * `P iL`), ending a key's holds, sweeping and counting. Same semantics as
 * src/broker/locks.ts and pools.ts; the prologue is in scripts.ts.
 * @module
 */

/** Locks and claims, by kind letter ('l' or 'c'): acquire, and the holder check of renew. */
export const HOLD_LIB = `
local function acquire(kind, id, name, ttl, holder, owner, max, hw)
  local k = P .. kind .. ':' .. id
  local x = redis.call('HGET', k, 'x')
  if x then return {'conflict', tonumber(x)} end
  redis.call('ZREM', P .. 'i' .. kind, id)
  if not reserve(max) then return {'max_items'} end
  local tok = nexttok(hw)
  local e = NOW + ttl
  redis.call('HSET', k, 't', string.format('%.0f', tok), 'o', owner, 'x', e, 'ttl', ttl, 'h', holder)
  redis.call('PEXPIREAT', k, e)
  redis.call('ZADD', P .. 'i' .. kind, e, id)
  redis.call('HSET', P .. 'names', kind .. ':' .. id, name)
  own(owner, kind .. ':' .. id, e)
  return {'ok', tok, e}
end
local function held(k, token, owner)
  local r = redis.call('HMGET', k, 't', 'o', 'ttl')
  if not r[1] then return nil, {'not_found'} end
  if r[2] ~= owner then return nil, {'conflict_owner'} end
  if tonumber(r[1]) ~= tonumber(token) then return nil, {'conflict_token'} end
  return r, nil
end
`;

/** ARGV[3..]: kind, id, sealed name, ttl, holder id ('-'), owner ('-'), max items, token high-water mark. → {'ok', token, expiry} | {'conflict', expiry} | {'max_items'} */
export const LOCK_ACQUIRE = `
return acquire(ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
`;

/** A claim (getOrSet): the live KV value (slid: a read), else a claim. ARGV[3..]: id, sealed name, ttl, owner, max items, hw. → {'value', sealed, expiry (-1 none)} | as LOCK_ACQUIRE */
export const CLAIM = `
local sealed, e = kvread(ARGV[3], true)
if sealed then return {'value', sealed, e} end
return acquire('c', ARGV[3], ARGV[4], tonumber(ARGV[5]), '-', ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
`;

/** ARGV[3..]: kind, id, token, ttl ('' = the acquire TTL), owner. → {'ok', expiry} | {'not_found'} | {'conflict_owner'} | {'conflict_token'} */
export const LOCK_RENEW = `
local kind, id, token, ttl, owner = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = P .. kind .. ':' .. id
local r, err = held(k, token, owner)
if err then return err end
local e = NOW + tonumber(ttl ~= '' and ttl or r[3])
redis.call('HSET', k, 'x', e)
redis.call('PEXPIREAT', k, e)
redis.call('ZADD', P .. 'i' .. kind, e, id)
own(owner, kind .. ':' .. id, e)
return {'ok', e}
`;

/** Idempotent. ARGV[3..]: kind, id, token, owner. → {'ok', 1 released | 0 nothing held by that token} | {'conflict_owner'} */
export const LOCK_RELEASE = `
local kind, id, token, owner = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local k = P .. kind .. ':' .. id
local r = redis.call('HMGET', k, 't', 'o')
if not r[1] or tonumber(r[1]) ~= tonumber(token) then return {'ok', 0} end
if r[2] ~= owner then return {'conflict_owner'} end
redis.call('DEL', k)
redis.call('ZREM', P .. 'i' .. kind, id)
redis.call('HDEL', P .. 'names', kind .. ':' .. id)
disown(owner, kind .. ':' .. id)
return {'ok', 1}
`;

// Pools: P p:ID is a hash: 'n' = size, 'o' = one per holder ('1'/'0'), 's<slot>' = "token expiry ttl owner holder".
export const POOL_LIB = `
local function loadpool(k, id)
  local h = redis.call('HGETALL', k)
  local size, oph, slots, live = nil, '0', {}, 0
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'n' then size = tonumber(h[i + 1])
    elseif f == 'o' then oph = h[i + 1]
    else
      local tok, e, ttl, o, hd = string.match(h[i + 1], '^(%d+) (%d+) (%d+) (%S+) (%S+)$')
      e = tonumber(e)
      local slot = tonumber(string.sub(f, 2))
      if e <= NOW then
        redis.call('HDEL', k, f); redis.call('ZREM', P .. 'iL', id .. ':' .. slot)
      else
        slots[slot] = { tok = tonumber(tok), e = e, ttl = tonumber(ttl), o = o, h = hd }
        live = live + 1
      end
    end
  end
  return size, oph, slots, live
end
local function putslot(k, id, slot, s)
  redis.call('HSET', k, 's' .. slot, string.format('%.0f %.0f %.0f %s %s', s.tok, s.e, s.ttl, s.o, s.h))
  redis.call('ZADD', P .. 'iL', s.e, id .. ':' .. slot)
end
local function delslot(k, id, slot)
  redis.call('HDEL', k, 's' .. slot); redis.call('ZREM', P .. 'iL', id .. ':' .. slot)
end
local function settle(k, id, slots)
  local maxe = 0
  for _, s in pairs(slots) do if s.e > maxe then maxe = s.e end end
  if maxe == 0 then
    redis.call('DEL', k); redis.call('ZREM', P .. 'ip', id); redis.call('HDEL', P .. 'names', 'p:' .. id)
  else
    redis.call('PEXPIREAT', k, maxe); redis.call('ZADD', P .. 'ip', maxe, id)
  end
end
`;

/**
 * ARGV[3..]: id, sealed name, size, ttl, holder id ('-'), owner ('-'), max items, token high-water mark,
 * one per holder asked ('' = whatever the pool has; '0'/'1').
 * → {'ok', slot, token, expiry} | {'conflict_size', size} | {'conflict_oph', '0'|'1'} | {'conflict_holder', expiry}
 *   | {'exhausted', size, next expiry} | {'holder_required'} | {'max_items'}
 */
export const POOL_LEASE = `
local id, name, size, ttl, holder, owner, max, hw, want = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11]
local k = P .. 'p:' .. id
local have, oph, slots, live = loadpool(k, id)
local per = oph
if live == 0 then per = (want == '1') and '1' or '0' end
if per == '1' and holder == '-' then return {'holder_required'} end
local e = NOW + ttl
if live > 0 then
  if have ~= size then return {'conflict_size', have} end
  if want ~= '' and want ~= oph then return {'conflict_oph', oph} end
  if holder ~= '-' then
    for slot, s in pairs(slots) do
      if s.h == holder and (per == '1' or s.o == owner) then
        if s.o ~= owner then return {'conflict_holder', s.e} end
        s.e = e; s.ttl = ttl; putslot(k, id, slot, s); settle(k, id, slots); own(owner, 'p:' .. id, e)
        return {'ok', slot, s.tok, e}
      end
    end
  end
  local slot = 0
  while slots[slot] do slot = slot + 1 end
  if slot >= size then
    local first = nil
    for _, s in pairs(slots) do if not first or s.e < first then first = s.e end end
    return {'exhausted', size, first}
  end
  if not reserve(max) then return {'max_items'} end
  local s = { tok = nexttok(hw), e = e, ttl = ttl, o = owner, h = holder }
  slots[slot] = s; putslot(k, id, slot, s); settle(k, id, slots); own(owner, 'p:' .. id, e)
  return {'ok', slot, s.tok, e}
end
redis.call('DEL', k)
redis.call('ZREM', P .. 'ip', id)
if not reserve(max) then return {'max_items'} end
redis.call('HSET', k, 'n', size, 'o', per)
local s = { tok = nexttok(hw), e = e, ttl = ttl, o = owner, h = holder }
slots[0] = s; putslot(k, id, 0, s); settle(k, id, slots)
redis.call('HSET', P .. 'names', 'p:' .. id, name)
own(owner, 'p:' .. id, e)
return {'ok', 0, s.tok, e}
`;

/** ARGV[3..]: id, token, ttl ('' = the lease's), owner. → {'ok', expiry} | {'not_found'} | {'conflict_owner'} */
export const POOL_RENEW = `
local id, token, ttl, owner = ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]
local k = P .. 'p:' .. id
local _, _, slots = loadpool(k, id)
for slot, s in pairs(slots) do
  if s.tok == token then
    if s.o ~= owner then return {'conflict_owner'} end
    if ttl ~= '' then s.ttl = tonumber(ttl) end
    s.e = NOW + s.ttl
    putslot(k, id, slot, s); settle(k, id, slots); own(owner, 'p:' .. id, s.e)
    return {'ok', s.e}
  end
end
settle(k, id, slots)
return {'not_found'}
`;

/** Idempotent. ARGV[3..]: id, token, owner. → {'ok', 1|0} | {'conflict_owner'} */
export const POOL_RELEASE = `
local id, token, owner = ARGV[3], tonumber(ARGV[4]), ARGV[5]
local k = P .. 'p:' .. id
local _, _, slots = loadpool(k, id)
for slot, s in pairs(slots) do
  if s.tok == token then
    if s.o ~= owner then return {'conflict_owner'} end
    delslot(k, id, slot); slots[slot] = nil; settle(k, id, slots)
    return {'ok', 1}
  end
end
settle(k, id, slots)
return {'ok', 0}
`;

/** ARGV[3..]: owner. → {'ok', locks, pools, claims}: {field, sealed name, …} of each live hold ended (one pair per pool lease). */
export const RELEASE_OWNER = `
local owner = ARGV[3]
local ok = P .. 'o:' .. owner
local out = { l = {}, p = {}, c = {} }
for _, m in ipairs(redis.call('SMEMBERS', ok)) do
  local kind, id = string.sub(m, 1, 1), string.sub(m, 3)
  local name = redis.call('HGET', P .. 'names', m)
  local list = out[kind]
  if kind == 'l' or kind == 'c' then
    local k = P .. kind .. ':' .. id
    local r = redis.call('HMGET', k, 'o', 'x')
    if r[1] == owner then
      if tonumber(r[2]) > NOW and name then list[#list + 1] = m; list[#list + 1] = name end
      redis.call('DEL', k); redis.call('ZREM', P .. 'i' .. kind, id); redis.call('HDEL', P .. 'names', m)
    end
  elseif kind == 'p' then
    local k = P .. 'p:' .. id
    local _, _, slots = loadpool(k, id)
    for slot, s in pairs(slots) do
      if s.o == owner then
        if name then list[#list + 1] = m; list[#list + 1] = name end
        delslot(k, id, slot); slots[slot] = nil
      end
    end
    settle(k, id, slots)
  end
end
redis.call('DEL', ok)
return {'ok', out.l, out.p, out.c}
`;

const COUNTS = `
local function counts()
  return redis.call('ZCARD', P .. 'ik'), redis.call('ZCARD', P .. 'il'), redis.call('ZCARD', P .. 'ic'), redis.call('ZCARD', P .. 'ip'), redis.call('ZCARD', P .. 'iL')
end
`;

/** ARGV[3..]: limit per kind. → {'ok', removed, kv, locks, claims, pools, leases} */
export const SWEEP = COUNTS + `
local limit = tonumber(ARGV[3])
local n = purge('k', limit) + purge('l', limit) + purge('c', limit) + purge('p', limit) + purge('L', limit)
local kv, locks, claims, pools, leases = counts()
return {'ok', n, kv, locks, claims, pools, leases}
`;

/** → {'ok', kv, locks, claims, pools, leases} (live; admin stats, not the hot path). */
export const STATS = COUNTS + `
for _, kind in ipairs({'k', 'l', 'c', 'p', 'L'}) do purge(kind, 100000) end
local kv, locks, claims, pools, leases = counts()
return {'ok', kv, locks, claims, pools, leases}
`;
