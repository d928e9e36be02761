--[[
Counts outcomes into a run's tally, each outcome id once: an id already in the set adds
nothing, so outcomes read twice (at-least-once delivery, a redelivered decision) count once.
Atomic per call, so every process counting a run's outcomes agrees on one tally.

KEYS[1]  set of counted outcome ids   <prefix>run:{org}:<runId>:oids
KEYS[2]  hash of counters             <prefix>run:{org}:<runId>:tally

ARGV[1]  TTL of both keys in milliseconds (refreshed on every call)
ARGV[2..]  per outcome: id, n, then n pairs of counter field and increment

Returns the number of outcomes counted for the first time.
]]
local added = 0
local i = 2
while i <= #ARGV do
  local id = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local fresh = redis.call('SADD', KEYS[1], id) == 1
  for j = 0, n - 1 do
    if fresh then
      redis.call('HINCRBY', KEYS[2], ARGV[i + 2 + 2 * j], ARGV[i + 3 + 2 * j])
    end
  end
  if fresh then added = added + 1 end
  i = i + 2 + 2 * n
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return added
