--[[
Extends a lock's lease, only while the caller still holds it, in one atomic step.

KEYS[1]  lock key   <prefix>lock:<name>   (a string holding the owner)

ARGV[1]  owner
ARGV[2]  lease in milliseconds

Returns 1 when the lease was extended, 0 when the lock is free or held by someone else.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
