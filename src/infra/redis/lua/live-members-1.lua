--[[
The live members of a group: those whose expiry, on the Redis server's clock, is still ahead.
Read-only.

KEYS[1]  group key   <prefix>members:<group>   (a sorted set: member -> expiry in ms)

Returns the live members, in no particular order.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
