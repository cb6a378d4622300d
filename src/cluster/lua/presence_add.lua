-- Adds or refreshes this node's entries in one room.
-- ARGV (after the shared four): 5 entry ttl (ms), then triples
--   field, session (8 bytes), user.
-- Returns {distinct users, then 1 per triple whose user just arrived}.
local now = now_ms()
purge(now)
local until_ms = now + tonumber(ARGV[5])
local out = {0}
for i = 6, #ARGV, 3 do
  out[#out + 1] = arrived(ARGV[i], ARGV[i + 1], ARGV[i + 2], until_ms)
end
keep()
out[1] = redis.call('ZCARD', users)
return out
