--[[
Sets a source position only when it still holds the expected value, in one atomic step.

KEYS[1]  position key   <prefix>pos:<name>   (a string)

ARGV[1]  '1' when a value is expected, '0' when no value may be stored
ARGV[2]  expected value (ignored when ARGV[1] is '0')
ARGV[3]  new value

Returns 1 when the value was set, 0 when the stored value differed (nothing changed).
]]
local stored = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if stored ~= ARGV[2] then return 0 end
elseif stored then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
