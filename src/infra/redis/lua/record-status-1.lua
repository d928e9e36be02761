--[[
Applies record status changes of one organization, in order: each change sets fields of the
record's status hash and pushes entries onto its history list, which is capped; both keys get
their TTL again. One call per batch of outcomes, so tens of thousands of records cost a few
round trips, not a few commands each.

KEYS[1]  the organization's key base   <prefix>rs:{org}:
         Not a key itself: the record keys are built from it (status <base>s:<suffix>, history
         <base>h:<suffix>). They share its {org} hash tag, so a cluster routes them with it.

ARGV[1]  TTL of a record's keys in milliseconds
ARGV[2]  history entries kept per record
ARGV[3..]  per change: suffix, n fields, n field/value pairs, m history entries (oldest first)

Returns the number of changes applied.
]]
local ttl = ARGV[1]
local keep = tonumber(ARGV[2])
local base = KEYS[1]
local applied = 0
local i = 3
while i <= #ARGV do
  local suffix = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  local status = base .. 's:' .. suffix
  local history = base .. 'h:' .. suffix
  i = i + 2
  if n > 0 then
    local args = {}
    for j = 0, 2 * n - 1 do args[j + 1] = ARGV[i + j] end
    redis.call('HSET', status, unpack(args))
    i = i + 2 * n
  end
  local m = tonumber(ARGV[i])
  i = i + 1
  for j = 0, m - 1 do redis.call('LPUSH', history, ARGV[i + j]) end
  i = i + m
  if m > 0 then
    redis.call('LTRIM', history, 0, keep - 1)
    redis.call('PEXPIRE', history, ttl)
  end
  redis.call('PEXPIRE', status, ttl)
  applied = applied + 1
end
return applied
