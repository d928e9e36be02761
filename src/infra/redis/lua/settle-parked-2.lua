--[[
Forgets an organization's marks once its parked writes are all written: only when the list is
empty, and each mark only if it still holds the offset the caller copied out (a park since
set another, which stays).

KEYS[1]  list key   <prefix>parked:<sink>:{org}
KEYS[2]  meta hash  <prefix>parked:<sink>:{org}:meta

ARGV[1], ARGV[2], ...  pairs: partition, the mark's offset as the caller read it

Returns 1 when the list was empty (the marks given are forgotten), 0 when it was not.
]]
if redis.call('LLEN', KEYS[1]) > 0 then
  return 0
end
for i = 1, #ARGV, 2 do
  local field = 'm:' .. ARGV[i]
  if redis.call('HGET', KEYS[2], field) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[2], field)
  end
end
return 1
