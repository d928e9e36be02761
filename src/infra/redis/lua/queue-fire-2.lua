--[[
Claims a schedule's fire slot and queues its run in one step, so a process told the slot is
taken knows the run is queued (or taken) already, and may read the queue in its order.

KEYS[1]  queue      <prefix>run-queue                      (sorted set: org id -> due instant)
KEYS[2]  slot       <prefix>run-queue:slot:<org>:<dueAt>    (expires after ARGV[3] ms)

ARGV[1]  org id
ARGV[2]  due instant (epoch ms)
ARGV[3]  how long the slot is remembered, in milliseconds

Returns 'slot-taken', 'already-queued' (the org still waits from an earlier slot) or 'queued'.
]]
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  return 'slot-taken'
end
if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 1 then
  return 'queued'
end
return 'already-queued'
