-- An admin's delete: removes the entry and tells every node, atomically.
-- KEYS: 1 stream
-- ARGV: 1 seq, 2 channel, 3 token (16 bytes: who deleted, to tell them)
-- Returns 1 if the entry was there, else 0.
if redis.call('XDEL', KEYS[1], ARGV[1] .. '-0') == 0 then
  return 0
end
redis.call('PUBLISH', ARGV[2], 'D' .. ARGV[3] .. ARGV[1])
return 1
