-- Claims an email for a pair: adds ARGV[1] (the pair id) to the email's set KEYS[1] and returns
-- the members the set held before, read in the same atomic step (one round trip, where MULTI
-- with SMEMBERS and SADD costs a client-side transaction per call).
local before = redis.call('SMEMBERS', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
return before
