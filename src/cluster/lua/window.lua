-- What a Join answers: the room's last seq, its oldest and newest
-- retained entries and, with a `since`, the entries after it.
-- KEYS: 1 meta hash, 2 stream
-- ARGV: 1 since ('' for none), 2 idle ttl (s)
-- Returns {last seq, first entry, last entry, entries after since}.
local meta, stream = KEYS[1], KEYS[2]
local last = room_seq(meta, stream, ARGV[2])
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
local entries = {}
if ARGV[1] ~= '' then
  entries = redis.call('XRANGE', stream, '(' .. ARGV[1] .. '-0', '+')
end
local function id(e)
  if #e == 0 then return '' end
  return e[1][1]
end
return {last, id(first), id(newest), entries}
