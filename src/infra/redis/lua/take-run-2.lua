--[[
Takes the first queued scheduled run for a starter, in one atomic step: first puts back every
claim whose lease ran out (its starter died before the run was recorded) at its own due
instant, so it keeps its place, then pops the first run and records the claim. Leases run on
the Redis server's clock.

KEYS[1]  queue    <prefix>run-queue          (sorted set: org id -> due instant)
KEYS[2]  claims   <prefix>run-queue:claims   (hash: org id -> "<expiresAt>|<dueAt>|<owner>")

ARGV[1]  owner
ARGV[2]  lease in milliseconds

Returns { org id, due instant } of the run taken, or nil when the queue is empty.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local claims = redis.call('HGETALL', KEYS[2])
for i = 1, #claims, 2 do
  local expiresAt, dueAt = string.match(claims[i + 1], '^(%d+)|(%d+)|')
  if tonumber(expiresAt) <= now then
    redis.call('HDEL', KEYS[2], claims[i])
    redis.call('ZADD', KEYS[1], 'NX', dueAt, claims[i])
  end
end
local first = redis.call('ZPOPMIN', KEYS[1])
if #first == 0 then return nil end
redis.call('HSET', KEYS[2], first[1], (now + tonumber(ARGV[2])) .. '|' .. first[2] .. '|' .. ARGV[1])
return first
