--[[
Compare-and-apply of one pair's state, with its link index, in one atomic step.

KEYS[1]  pair hash            <prefix>pair:{org}:<pairId>   fields rev, state, il, sf, st, ex, seen
KEYS[2]  org's pair-id index  <prefix>pairs:{org}           sorted set, all scores 0
KEYS[3]  link of the new InitLive id     (unused when ARGV[4] is '')
KEYS[4]  link of the new Salesforce id   (unused when ARGV[5] is '')
KEYS[5]  link of the InitLive id the caller believes is stored   (unused when ARGV[6] is '')
KEYS[6]  link of the Salesforce id the caller believes is stored (unused when ARGV[7] is '')

ARGV[1]  pair id
ARGV[2]  expected revision (0: the pair must not exist)
ARGV[3]  new state text (stored as is; never decoded here)
ARGV[4]  new InitLive id, '' for none
ARGV[5]  new Salesforce id, '' for none
ARGV[6]  InitLive id the caller believes is stored, '' for none
ARGV[7]  Salesforce id the caller believes is stored, '' for none
ARGV[8]  the state's seen versions, "<initlive>,<salesforce>" (kept beside the state so a
         reader needing only ids and versions never parses it)
ARGV[9]  the state's status (linked, unlinked, deleted)
ARGV[10] the state's exists flags ('' or two of '0'/'1', InitLive first); status and flags
         are fields of their own so link-2.lua can link a record without the state text

Returns one of
  {1, newRev}
  {0, 'rev-mismatch', storedRev, storedState, il, sf, st, ex}   (0 and '' when absent)
  {0, 'links-changed', storedIl, storedSf}                      (ARGV[6..7] were wrong: call again with these)
  {0, 'link-owned', side, recordId, ownerPairId, storedRev, storedState, il, sf, st, ex}

Links are maintained only by this script, link-2.lua and delete-pair-4.lua, so a link key always names
the pair whose il/sf field holds that id. Revisions stay far below 2^53 (Lua numbers are doubles).
]]
local pairId = ARGV[1]
local expectedRev = tonumber(ARGV[2])
local newIl, newSf, oldIl, oldSf = ARGV[4], ARGV[5], ARGV[6], ARGV[7]

local stored = redis.call('HMGET', KEYS[1], 'rev', 'state', 'il', 'sf', 'st', 'ex')
local rev = tonumber(stored[1]) or 0
local state = stored[2] or ''
local storedIl, storedSf = stored[3] or '', stored[4] or ''
local storedSt, storedEx = stored[5] or '', stored[6] or ''

if rev ~= expectedRev then
  return {0, 'rev-mismatch', rev, state, storedIl, storedSf, storedSt, storedEx}
end
if expectedRev >= 9007199254740991 then
  return redis.error_reply('ERR pair revision would pass 2^53')
end

if storedIl ~= oldIl or storedSf ~= oldSf then
  return {0, 'links-changed', storedIl, storedSf}
end

if newIl ~= '' then
  local owner = redis.call('GET', KEYS[3])
  if owner and owner ~= pairId then
    return {0, 'link-owned', 'initlive', newIl, owner, rev, state, storedIl, storedSf, storedSt, storedEx}
  end
end
if newSf ~= '' then
  local owner = redis.call('GET', KEYS[4])
  if owner and owner ~= pairId then
    return {0, 'link-owned', 'salesforce', newSf, owner, rev, state, storedIl, storedSf, storedSt, storedEx}
  end
end

if oldIl ~= '' and oldIl ~= newIl and redis.call('GET', KEYS[5]) == pairId then
  redis.call('DEL', KEYS[5])
end
if oldSf ~= '' and oldSf ~= newSf and redis.call('GET', KEYS[6]) == pairId then
  redis.call('DEL', KEYS[6])
end
if newIl ~= '' then redis.call('SET', KEYS[3], pairId) end
if newSf ~= '' then redis.call('SET', KEYS[4], pairId) end

local newRev = expectedRev + 1
redis.call('HSET', KEYS[1], 'rev', newRev, 'state', ARGV[3], 'il', newIl, 'sf', newSf,
  'st', ARGV[9], 'ex', ARGV[10], 'seen', ARGV[8])
if expectedRev == 0 then
  redis.call('ZADD', KEYS[2], 0, pairId)
end
return {1, newRev}
