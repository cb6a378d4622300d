-- Shared by the room scripts (prepended to each). Seqs stay below 2^53,
-- so Lua's doubles hold them exactly; they are written with '%d' because
-- Lua would print a large number as 1.8e+15.
local function fmt(n)
  return string.format('%d', n)
end

-- The room's last issued seq. A room Redis holds nothing for (new, or
-- its state was lost) starts from the clock-derived base of the
-- protocol's section 7, Unix ms x 2^10 on Redis' own clock, and above
-- whatever its stream still holds, so no seq is issued twice. Idle
-- rooms expire after `ttl` seconds (and continue from the clock then).
local function room_seq(meta, stream, ttl)
  local last = redis.call('HGET', meta, 'seq')
  if last then
    return tonumber(last)
  end
  local t = redis.call('TIME')
  local base = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1024
  local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #top > 0 then
    local s = tonumber(string.match(top[1][1], '^%d+'))
    if s >= base then
      base = s + 1
    end
  end
  redis.call('HSET', meta, 'seq', fmt(base - 1))
  redis.call('EXPIRE', meta, ttl)
  return base - 1
end
