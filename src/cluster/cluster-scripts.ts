/**
 * The Lua scripts of cluster mode. Each runs atomically inside Redis and
 * reads Redis's clock (TIME), so no decision depends on a replica's clock.
 * Times are milliseconds of Redis's clock.
 */

/**
 * Heartbeat. KEYS: members (zset id -> last seen), urls (hash id -> API
 * address), configs (hash id -> target-list hash), blob (the target list of
 * this replica's configuration), tombstone (set when this member left),
 * proofs (hash id -> the member's signature over its record, member-auth.ts).
 * ARGV: id, dropAfterMs, keepMs, url, configHash, blob ('' = already
 * stored, just keep it), proof.
 *
 * Registers us, drops members not seen for dropAfterMs (with their url,
 * config and proof entries), keeps every key alive for keepMs, and returns
 * { now, blobPresent, id1, url1, config1, proof1, id2, ... }. Nothing here
 * is trusted by the reader: each record's proof is checked in the replica
 * (Redis holds no secret). blobPresent is 0 when
 * our target list is gone from Redis (expired, or Redis restarted empty): the
 * caller sends it again at once. A heartbeat that arrives after its member
 * left (it was held up on the way) changes nothing and returns { now, -1 }.
 */
export const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[5]) == 1 then return { now, -1 } end
local cutoff = now - tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do
  redis.call('HDEL', KEYS[2], m)
  redis.call('HDEL', KEYS[3], m)
  redis.call('HDEL', KEYS[6], m)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[7])
for _, i in ipairs({ 1, 2, 3, 6 }) do redis.call('PEXPIRE', KEYS[i], keep) end
local blob
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[4], ARGV[6], 'PX', keep)
  blob = 1
else
  blob = redis.call('PEXPIRE', KEYS[4], keep)
end
local out = { now, blob }
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', KEYS[2], m) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], m) or ''
  out[#out + 1] = redis.call('HGET', KEYS[6], m) or ''
end
return out
`;

/**
 * Slot claim. KEYS: the claim key prefix. ARGV: target, elapsedMs (local
 * time since the slot started, at sending), intervalMs, id, notAfter (Redis
 * time after which the claim must not take effect: the sender has stopped
 * waiting for it).
 *
 * The slot is named by Redis's clock: Redis's time now, minus the time the
 * sender says has passed since its slot started, rounded to the interval
 * grid. Replicas whose clocks disagree by less than half an interval name the
 * same slot alike, however long a claim waited in a queue before it was sent.
 * The key is built here from the prefix in KEYS[1]: fine on a single Redis
 * (what we run), not on Redis Cluster.
 *
 * Returns { 'won', slot } | { 'lost', slot, holder } | { 'late', now }.
 */
export const CLAIM_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[5]) then return { 'late', now } end
local interval = tonumber(ARGV[3])
local slot = math.floor((now - tonumber(ARGV[2])) / interval + 0.5) * interval
local key = KEYS[1] .. ARGV[1] .. ':' .. string.format('%.0f', slot)
if redis.call('SET', key, ARGV[4], 'NX', 'PX', interval * 2) then return { 'won', slot } end
local holder = redis.call('GET', key)
if holder == ARGV[4] then return { 'won', slot } end
return { 'lost', slot, holder or '' }
`;

/**
 * Graceful leave. KEYS: members, urls, configs, tombstone, proofs. ARGV: id, events
 * channel, keepMs. Peers heartbeat on the event and recompute ownership at
 * once; the tombstone keeps a heartbeat still on its way from re-adding us.
 */
export const LEAVE_LUA = `
redis.call('SET', KEYS[4], '1', 'PX', tonumber(ARGV[3]))
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'leave ' .. ARGV[1])
return 1
`;
