--[[
Claims an email for a pair: adds the pair id to the email's set and answers the members the
set held before, read in the same atomic step (one round trip; MULTI with SMEMBERS and SADD
costs a client-side transaction per call).

KEYS[1]  email set   <prefix>email:{org}:<normalized email>

ARGV[1]  pair id claiming the email

Returns the members before the claim (the claiming pair included if it was there already).
]]
local before = redis.call('SMEMBERS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
return before
