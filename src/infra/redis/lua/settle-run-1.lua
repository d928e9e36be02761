--[[
Ends a starter's claim on a taken scheduled run, only when the caller still holds it
(compare-and-delete), so a starter whose lease ran out never drops the claim of the one that
took the run after it.

KEYS[1]  claims   <prefix>run-queue:claims   (hash: org id -> "<expiresAt>|<dueAt>|<owner>")

ARGV[1]  org id
ARGV[2]  owner

Returns 1 when the claim was ended, 0 when the caller does not hold it.
]]
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if not claim then return 0 end
local owner = string.match(claim, '^%d+|%d+|(.*)$')
if owner ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
