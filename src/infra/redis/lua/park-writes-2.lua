--[[
Appends records to an organization's parked writes, keeping the list's generation and its
marks (per partition, the first offset parked since the list was last settled) beside it, in
one atomic step. A record at or below the offset a restore read its partition through
(restore-parked-2.lua) is skipped: the restore put it in the list already.

KEYS[1]  list key   <prefix>parked:<sink>:{org}
KEYS[2]  meta hash  <prefix>parked:<sink>:{org}:meta   gen, m:<partition>, t:<partition>

ARGV[1]  a new generation, taken when the list has none yet (nothing parked in this store)
ARGV[2..] per record, three: partition, offset, the record's JSON

Returns { records in the list, generation, { partition, mark, ... } for the partitions of
the records handed in }.
]]
local gen = redis.call('HGET', KEYS[2], 'gen')
if not gen then
  gen = ARGV[1]
  redis.call('HSET', KEYS[2], 'gen', gen)
end
local seen, order = {}, {}
for i = 2, #ARGV, 3 do
  local p, offset = ARGV[i], ARGV[i + 1]
  local through = redis.call('HGET', KEYS[2], 't:' .. p)
  if not through or tonumber(offset) > tonumber(through) then
    redis.call('HSETNX', KEYS[2], 'm:' .. p, offset)
    redis.call('RPUSH', KEYS[1], ARGV[i + 2])
  end
  if not seen[p] then
    seen[p] = true
    order[#order + 1] = p
  end
end
local marks = {}
for _, p in ipairs(order) do
  local m = redis.call('HGET', KEYS[2], 'm:' .. p)
  if m then
    marks[#marks + 1] = p
    marks[#marks + 1] = m
  end
end
return { redis.call('LLEN', KEYS[1]), gen, marks }
