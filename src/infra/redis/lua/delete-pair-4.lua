--[[
Deletes one pair and its links when it is at the expected revision, in one atomic step.

KEYS[1]  pair hash            <prefix>pair:{org}:<pairId>   fields rev, state, il, sf
KEYS[2]  org's pair-id index  <prefix>pairs:{org}
KEYS[3]  link of the InitLive id the caller believes is stored   (unused when ARGV[3] is '')
KEYS[4]  link of the Salesforce id the caller believes is stored (unused when ARGV[4] is '')

ARGV[1]  pair id
ARGV[2]  expected revision (>= 1)
ARGV[3]  InitLive id the caller believes is stored, '' for none
ARGV[4]  Salesforce id the caller believes is stored, '' for none

Returns one of
  {'deleted'}
  {'rev-mismatch'}                          (also when the pair does not exist)
  {'links-changed', storedIl, storedSf}     (ARGV[3..4] were wrong: call again with these)
]]
local pairId = ARGV[1]
local expectedRev = tonumber(ARGV[2])

local stored = redis.call('HMGET', KEYS[1], 'rev', 'il', 'sf')
local rev = tonumber(stored[1]) or 0
if rev == 0 or rev ~= expectedRev then
  return {'rev-mismatch'}
end

local storedIl, storedSf = stored[2] or '', stored[3] or ''
if storedIl ~= ARGV[3] or storedSf ~= ARGV[4] then
  return {'links-changed', storedIl, storedSf}
end

if storedIl ~= '' and redis.call('GET', KEYS[3]) == pairId then redis.call('DEL', KEYS[3]) end
if storedSf ~= '' and redis.call('GET', KEYS[4]) == pairId then redis.call('DEL', KEYS[4]) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], pairId)
return {'deleted'}
