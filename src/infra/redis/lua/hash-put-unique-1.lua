--[[
Adds field -> value pairs to a hash where a field may hold only one value: a field given a
second, different value is marked ambiguous ('') for good. One atomic step per call, so two
pages adding the same field from two processes still end ambiguous, never with one value.

KEYS[1]  hash key   <prefix>run:{org}:<runId>:map:<map>

ARGV[1]  TTL of the hash in milliseconds (refreshed on every call)
ARGV[2], ARGV[3], ...  field, value, field, value, ...

Returns the number of fields that became ambiguous in this call.
]]
local ambiguous = 0
for i = 2, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[1], field)
  if not old then
    redis.call('HSET', KEYS[1], field, value)
  elseif old ~= value and old ~= '' then
    redis.call('HSET', KEYS[1], field, '')
    ambiguous = ambiguous + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return ambiguous
