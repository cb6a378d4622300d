-- One publish, atomically: the PublishOnce check, the room's next seq,
-- the append to the capped stream, and the PUBLISH to every node.
-- KEYS: 1 meta hash, 2 stream, 3 once hash (field -> seq), 4 once order (zset by seq)
-- ARGV: 1 token (16 bytes), 2 tail (the Message frame after its seq),
--       3 history, 4 once field ('' without a key), 5 channel, 6 idle ttl (s)
-- Returns {seq, 1 if this is an earlier publish found by its key else 0}.
local meta, stream, once, order = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local token, tail, field, channel, ttl = ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6]
local history = tonumber(ARGV[3])

if field ~= '' then
  local seen = redis.call('HGET', once, field)
  if seen then
    return {tonumber(seen), 1}
  end
end

local seq = room_seq(meta, stream, ttl) + 1
local s = fmt(seq)
redis.call('HSET', meta, 'seq', s)
redis.call('EXPIRE', meta, ttl)
if history > 0 then
  redis.call('XADD', stream, 'MAXLEN', history, s .. '-0', 't', token, 'b', tail)
  redis.call('EXPIRE', stream, ttl)
  if field ~= '' then
    redis.call('HSET', once, field, s)
    redis.call('ZADD', order, s, field)
  end
end
-- A key is remembered while its seq is among the room's last `history`.
local old = redis.call('ZRANGEBYSCORE', order, '-inf', fmt(seq - history), 'LIMIT', 0, 256)
if #old > 0 then
  redis.call('HDEL', once, unpack(old))
  redis.call('ZREM', order, unpack(old))
end
if redis.call('EXISTS', order) == 1 then
  redis.call('EXPIRE', once, ttl)
  redis.call('EXPIRE', order, ttl)
end
redis.call('PUBLISH', channel, 'M' .. token .. s .. '\n' .. tail)
return {seq, 0}
