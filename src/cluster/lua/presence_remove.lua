-- Removes one of this node's entries.
-- ARGV (after the shared four): 5 field, 6 session (8 bytes), 7 user.
-- Returns {1 if the user's last entry went, distinct users left}.
purge(now_ms())
local gone = 0
if redis.call('HDEL', entries, ARGV[5]) == 1 then
  redis.call('ZREM', expiry, ARGV[5])
  gone = left(ARGV[7], origin .. ARGV[6])
end
return {gone, redis.call('ZCARD', users)}
