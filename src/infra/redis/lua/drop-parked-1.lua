--[[
Drops the first ARGV[1] records of an organization's parked writes, only when the list still
starts with ARGV[2] (the head the caller read and wrote), in one atomic step: a second drain
of the same list (another process) that wrote the same head after this one dropped it drops
nothing, instead of records nobody wrote.

KEYS[1]  list key   <prefix>parked:<sink>:{org}

ARGV[1]  how many records to drop
ARGV[2]  the head record as the caller read it (its JSON)

Returns the records left in the list.
]]
if redis.call('LINDEX', KEYS[1], 0) == ARGV[2] then
  redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
end
return redis.call('LLEN', KEYS[1])
