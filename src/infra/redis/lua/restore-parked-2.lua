--[[
Puts records read again from the topic ahead of an organization's parked writes, after the
store lost them, in one atomic step. Records the list holds from a partition read again,
within the offsets read, are the same records parked since the loss and are dropped; the
others stay behind in their order. Each partition's mark goes down to its first
record read again, and the offset it was read through is kept (t:<partition>, never lowered)
so that park-writes-2.lua skips those records when they come again. Running it twice with the
same reading leaves the same list.

KEYS[1]  list key   <prefix>parked:<sink>:{org}
KEYS[2]  meta hash  <prefix>parked:<sink>:{org}:meta

ARGV[1]  a new generation, taken when the list has none yet
ARGV[2]  n, the number of partitions read
ARGV[3..2+3n]  triples: partition, the offset it was read from, the offset read through
ARGV[3+3n..]   per record read again, three: partition, offset, the record's JSON

Returns { records in the list, generation, { partition, mark, ... } for the partitions of the
records read again }.
]]
local gen = redis.call('HGET', KEYS[2], 'gen')
if not gen then
  gen = ARGV[1]
  redis.call('HSET', KEYS[2], 'gen', gen)
end
local n = tonumber(ARGV[2])
local read = {}
for i = 3, 2 + 3 * n, 3 do
  local p, through = ARGV[i], tonumber(ARGV[i + 2])
  read[p] = { tonumber(ARGV[i + 1]), through }
  local was = redis.call('HGET', KEYS[2], 't:' .. p)
  if not was or through > tonumber(was) then
    redis.call('HSET', KEYS[2], 't:' .. p, ARGV[i + 2])
  end
end
local kept = {}
for _, json in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local r = cjson.decode(json)
  local range = read[tostring(r.partition)]
  local offset = tonumber(r.offset)
  if not range or offset < range[1] or offset > range[2] then
    kept[#kept + 1] = json
  end
end
redis.call('DEL', KEYS[1])
local seen, order = {}, {}
for i = 3 + 3 * n, #ARGV, 3 do
  local p, offset = ARGV[i], ARGV[i + 1]
  local mark = redis.call('HGET', KEYS[2], 'm:' .. p)
  if not mark or tonumber(offset) < tonumber(mark) then
    redis.call('HSET', KEYS[2], 'm:' .. p, offset)
  end
  redis.call('RPUSH', KEYS[1], ARGV[i + 2])
  if not seen[p] then
    seen[p] = true
    order[#order + 1] = p
  end
end
for i = 1, #kept do
  redis.call('RPUSH', KEYS[1], kept[i])
end
local marks = {}
for _, p in ipairs(order) do
  marks[#marks + 1] = p
  marks[#marks + 1] = redis.call('HGET', KEYS[2], 'm:' .. p)
end
return { redis.call('LLEN', KEYS[1]), gen, marks }
