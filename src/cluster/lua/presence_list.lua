-- Who is in the room: the exact count and the first names in byte order.
-- ARGV (after the shared four): 5 how many names at most.
-- Returns {distinct users, names}.
purge(now_ms())
local n = tonumber(ARGV[5])
return {redis.call('ZCARD', users), redis.call('ZRANGE', users, 0, n - 1)}
