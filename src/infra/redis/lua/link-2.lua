--[[
Links a pair to a record id one side learned (a sink's create), without the state text.

KEYS[1]  pair hash            <prefix>pair:{org}:<pairId>   fields rev, state, il, sf, st, ex, seen
KEYS[2]  link of the record id

ARGV[1]  pair id
ARGV[2]  side field: 'il' (InitLive) or 'sf' (Salesforce)
ARGV[3]  record id (not '')

Returns one of
  {'linked', newRev}
  {'absent'}                  no such pair
  {'held', storedRev}         the pair holds an id on that side already; nothing changes
  {'link-owned', ownerPairId} another pair holds the record id; nothing changes
  {'legacy'}                  the pair was stored before status and exists flags were kept as
                              fields: the caller links it through compare-and-apply-6.lua

As VersionStore.linkedState does on a state: sets the id, marks that side's record as existing
(when the state has merge memory: flags not ''), makes an unlinked pair holding both ids linked,
points the link at the pair and bumps the revision. The state text and seen versions stay.
]]
local pairId, field, recordId = ARGV[1], ARGV[2], ARGV[3]

local stored = redis.call('HMGET', KEYS[1], 'rev', 'il', 'sf', 'st', 'ex')
local rev = tonumber(stored[1]) or 0
if rev == 0 then return {'absent'} end
if not stored[4] then return {'legacy'} end
if rev >= 9007199254740991 then
  return redis.error_reply('ERR pair revision would pass 2^53')
end

local il, sf, st, ex = stored[2] or '', stored[3] or '', stored[4], stored[5] or ''
local held, other = il, sf
if field == 'sf' then held, other = sf, il end
if held ~= '' then return {'held', rev} end

local owner = redis.call('GET', KEYS[2])
if owner and owner ~= pairId then return {'link-owned', owner} end

if other ~= '' and st == 'unlinked' then st = 'linked' end
if ex ~= '' then
  if field == 'il' then ex = '1' .. string.sub(ex, 2, 2) else ex = string.sub(ex, 1, 1) .. '1' end
end
redis.call('SET', KEYS[2], pairId)
local newRev = rev + 1
redis.call('HSET', KEYS[1], 'rev', newRev, field, recordId, 'st', st, 'ex', ex)
return {'linked', newRev}
