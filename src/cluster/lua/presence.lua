-- Shared by the presence scripts (prepended to each). Per room:
--   entries: hash  field (node/instance/session) -> user
--   expiry:  zset  field -> Unix ms after which the entry is dead
--   counts:  hash  user -> its number of entries
--   users:   zset  user, score 0 (so ZRANGE lists them in byte order)
-- A node refreshes its entries' expiry periodically; a dead node's
-- entries are purged by whichever node touches the room next.
-- Events are PUBLISHed on the room's channel as
-- 'J'|'L' .. origin (8 bytes) .. session (8 bytes) .. user.
local entries, expiry, counts, users = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local channel, origin, events_max, key_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local NOBODY = string.rep('\0', 16)

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function left(user, who)
  if redis.call('HINCRBY', counts, user, -1) > 0 then
    return 0
  end
  local total = redis.call('ZCARD', users)
  redis.call('HDEL', counts, user)
  redis.call('ZREM', users, user)
  if total <= events_max then
    redis.call('PUBLISH', channel, 'L' .. who .. user)
  end
  return 1
end

local function arrived(field, session, user, until_ms)
  redis.call('ZADD', expiry, until_ms, field)
  if redis.call('HSETNX', entries, field, user) == 0 then
    return 0
  end
  if redis.call('HINCRBY', counts, user, 1) > 1 then
    return 0
  end
  redis.call('ZADD', users, 0, user)
  if redis.call('ZCARD', users) <= events_max then
    redis.call('PUBLISH', channel, 'J' .. origin .. session .. user)
  end
  return 1
end

local function purge(now)
  local dead = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 512)
  for _, field in ipairs(dead) do
    local user = redis.call('HGET', entries, field)
    redis.call('HDEL', entries, field)
    redis.call('ZREM', expiry, field)
    if user then
      left(user, NOBODY)
    end
  end
end

local function keep()
  for _, key in ipairs(KEYS) do
    redis.call('EXPIRE', key, key_ttl)
  end
end
