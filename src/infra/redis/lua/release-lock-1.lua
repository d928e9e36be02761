--[[
Releases a lock, only when the caller holds it (compare-and-delete), in one atomic step, so a
holder whose lease ran out can never delete the lock another process took since.

KEYS[1]  lock key   <prefix>lock:<name>   (a string holding the owner)

ARGV[1]  owner

Returns 1 when the lock was released, 0 when it is free or held by someone else.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
