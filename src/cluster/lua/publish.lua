-- Publishes, atomically and in order: for each message the PublishOnce
-- check, the room's next seq, the append to the capped stream, and the
-- PUBLISH to every node. A node sends what queued up while its previous
-- call ran in one call (one round trip for the lot).
-- KEYS: per message, 4: meta hash, stream, once hash (field -> seq),
--       once order (zset by seq)
-- ARGV: 1 history, 2 idle ttl (s), then per message, 4: token (16 bytes),
--       tail (the Message frame after its seq), once field ('' without a
--       key), channel
-- Returns per message {seq, 1 if an earlier publish found by its key else 0}.
local history, ttl = tonumber(ARGV[1]), ARGV[2]

local function publish_one(meta, stream, once, order, token, tail, field, channel)
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
end

local answers = {}
for i = 0, #KEYS / 4 - 1 do
  local k, a = i * 4, 2 + i * 4
  answers[i + 1] = publish_one(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4],
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
end
return answers
