--[[
Records a member of a group as live until its time to live runs out, drops the members whose
time ran out, and returns the live ones, in one atomic step. Expiries are on the Redis
server's clock, so processes with skewed clocks agree on who is alive.

KEYS[1]  group key   <prefix>members:<group>   (a sorted set: member -> expiry in ms)

ARGV[1]  member
ARGV[2]  time to live in milliseconds

Returns the live members (the caller included), in no particular order.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
-- The set goes away with its longest-lived member, so a deployment that is gone leaves no key.
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now))
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
