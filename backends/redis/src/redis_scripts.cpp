// The Lua scripts of the Redis backend (see redis_scripts.hpp and
// docs/design.md §5). Every script is the prelude followed by its body.
//
// The holder is one string, "token\nowner\nat\npid\nhost" (owner ids are
// hex, host names have no newline), set with its lease in one SET PX, so a
// grant costs one write command.
#include "redis_scripts.hpp"

namespace baton::redis::detail {

namespace {

constexpr const char* prelude = R"lua(
-- The keys and arguments every script takes (redis_scripts.hpp).
local TOKEN_KEY, HOLDER_KEY, QUEUE_KEY, ALIVE_KEY = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local OWNER, HOST, PID, LEASE_MS, OPERAND, WAITER_TTL_MS, WAKE_PREFIX =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
-- Lua numbers are doubles and redis.call formats them with %.14g, which
-- would mangle 16-digit tokens: every number goes out through num().
local function num(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Waiters whose own liveness deadline passed are gone, wherever they stand.
local function prune(now)
  local dead = redis.call('ZRANGEBYSCORE', ALIVE_KEY, '-inf', num(now))
  for _, t in ipairs(dead) do
    redis.call('ZREM', QUEUE_KEY, t)
    redis.call('DEL', WAKE_PREFIX .. t)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', ALIVE_KEY, '-inf', num(now)) end
end
-- A free lock with waiters: tell the head to take it (it grants itself).
local function wake_head()
  if redis.call('EXISTS', HOLDER_KEY) == 1 then return end
  local head = redis.call('ZRANGE', QUEUE_KEY, 0, 0)[1]
  if head then
    local key = WAKE_PREFIX .. head
    redis.call('RPUSH', key, '1')
    redis.call('PEXPIRE', key, WAITER_TTL_MS)
  end
end
-- Counters start at the server clock in microseconds, so tokens still grow
-- after a restart that lost the counter. INCR answering 1 means the counter
-- was missing (1 itself is never handed out).
local function next_token()
  local t = redis.call('INCR', TOKEN_KEY)
  if t ~= 1 then return t end
  local now = redis.call('TIME')
  redis.call('SET', TOKEN_KEY, now[1] .. string.format('%06d', tonumber(now[2])))
  return redis.call('INCR', TOKEN_KEY)
end
local function grant(token, now)
  local v = num(token) .. '\n' .. OWNER .. '\n' .. num(now) .. '\n' .. PID .. '\n' .. HOST
  if tonumber(LEASE_MS) > 0 then
    redis.call('SET', HOLDER_KEY, v, 'PX', LEASE_MS)
  else
    redis.call('SET', HOLDER_KEY, v)
  end
end
-- The holder's fields: token, owner, at, pid, host (nil when free).
local function holder()
  local v = redis.call('GET', HOLDER_KEY)
  if not v then return nil end
  local f, i = {}, 1
  for _ = 1, 4 do
    local j = string.find(v, '\n', i, true)
    f[#f + 1] = string.sub(v, i, j - 1)
    i = j + 1
  end
  f[5] = string.sub(v, i)
  return f
end
-- The token of a holder value whose owner is OWNER, else nil.
local function owned_token(v)
  if not v then return nil end
  local i = string.find(v, '\n', 1, true)
  if string.sub(v, i + 1, i + #OWNER + 1) == OWNER .. '\n' then return string.sub(v, 1, i - 1) end
  return nil
end
-- Sets the holder's lease to LEASE_MS ms (0: forever).
local function set_lease()
  if tonumber(LEASE_MS) > 0 then redis.call('PEXPIRE', HOLDER_KEY, LEASE_MS) else redis.call('PERSIST', HOLDER_KEY) end
end
-- Takes ticket t out of the queue: its place, its liveness, its wake-up list.
local function dequeue(t)
  redis.call('ZREM', QUEUE_KEY, t)
  redis.call('ZREM', ALIVE_KEY, t)
  redis.call('DEL', WAKE_PREFIX .. t)
end
local function holder_is(owner, token)
  local v = redis.call('GET', HOLDER_KEY)
  local p = token .. '\n' .. owner .. '\n'
  return v ~= false and string.sub(v, 1, #p) == p
end
-- Owner ids are unique per Lock instance, and a Lock only asks for a grant
-- when it believes it holds none: a grant already carrying its owner id is
-- one whose reply was lost (a timed-out call the server ran later).
local function phantom_token()
  return owned_token(redis.call('GET', HOLDER_KEY))
end
)lua";

// OPERAND: 'try' (never queue) or 'queue'. Returns {1, token} when granted,
// {0, ticket, pttl} when queued, {0, 0, 0} when a try found it busy.
constexpr const char* acquire_body = R"lua(
-- The uncontended case first, with as few calls as it takes: no holder and
-- no queue (then there are no waiters to prune either).
local v = redis.call('GET', HOLDER_KEY)
local mine = owned_token(v)
if mine then
  -- A grant of ours whose reply was lost (see phantom_token): adopt it.
  set_lease()
  return {1, tonumber(mine)}
end
local now = now_ms()
if not v then
  local queued = redis.call('EXISTS', QUEUE_KEY)
  if queued == 1 then
    prune(now)
    queued = redis.call('EXISTS', QUEUE_KEY)
  end
  if queued == 0 then
    local t = next_token()
    grant(t, now)
    return {1, t}
  end
else
  prune(now)
end
wake_head()
if OPERAND == 'try' then return {0, 0, 0} end
local t = next_token()
redis.call('ZADD', QUEUE_KEY, num(t), num(t))
redis.call('ZADD', ALIVE_KEY, num(now + tonumber(WAITER_TTL_MS)), num(t))
return {0, t, redis.call('PTTL', HOLDER_KEY)}
)lua";

// OPERAND: my ticket. Returns {1, token} when granted, {-1} when my ticket
// was pruned (I was silent too long), else {0, holder pttl, 1 if I am head}.
// A grant already carrying my owner id is one whose reply I never read (a
// poll pipelined on a connection I gave up on, run late): it is adopted, as
// by acquire, instead of queueing behind myself.
constexpr const char* poll_body = R"lua(
local now = now_ms()
prune(now)
local me = OPERAND
if not redis.call('ZSCORE', QUEUE_KEY, me) then return {-1} end
local phantom = phantom_token()
if phantom then
  dequeue(me)
  set_lease()
  return {1, tonumber(phantom)}
end
redis.call('ZADD', ALIVE_KEY, num(now + tonumber(WAITER_TTL_MS)), me)
local head = redis.call('ZRANGE', QUEUE_KEY, 0, 0)[1]
if head == me and redis.call('EXISTS', HOLDER_KEY) == 0 then
  dequeue(me)
  grant(me, now)
  return {1, tonumber(me)}
end
wake_head()
return {0, redis.call('PTTL', HOLDER_KEY), head == me and 1 or 0}
)lua";

// OPERAND: my ticket (or ""). Leaves the queue without a trace, including a
// grant whose reply never reached me (a cancelled or broken call).
constexpr const char* leave_body = R"lua(
if phantom_token() then redis.call('DEL', HOLDER_KEY) end
dequeue(OPERAND)
prune(now_ms())
wake_head()
return 1
)lua";

// OPERAND: my token. Compare-and-set on owner and token.
constexpr const char* renew_body = R"lua(
if not holder_is(OWNER, OPERAND) then return 0 end
set_lease()
return 1
)lua";

constexpr const char* release_body = R"lua(
local mine = holder_is(OWNER, OPERAND)
if mine then redis.call('DEL', HOLDER_KEY) end
-- No queue, no waiter to prune or wake.
if redis.call('EXISTS', QUEUE_KEY) == 1 then
  prune(now_ms())
  wake_head()
end
return mine and 1 or 0
)lua";

constexpr const char* clear_body = R"lua(
local existed = redis.call('DEL', HOLDER_KEY)
prune(now_ms())
wake_head()
return existed
)lua";

// {held, token, owner, host, pid, acquired ms, pttl, live waiters}
constexpr const char* inspect_body = R"lua(
local now = now_ms()
local waiters = redis.call('ZCOUNT', ALIVE_KEY, '(' .. num(now), '+inf')
local h = holder()
if not h then return {0, 0, '', '', 0, 0, 0, waiters} end
return {1, h[1], h[2], h[5], h[4], h[3], redis.call('PTTL', HOLDER_KEY), waiters}
)lua";

}  // namespace

ScriptKeys ScriptKeys::of(std::string_view prefix, std::string_view name) {
  std::string base(prefix);
  base += name;
  return {base + ":token", base + ":holder", base + ":queue", base + ":alive"};
}

std::string wake_prefix_of(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  out += name;
  return out + ":wake:";
}

std::vector<std::string> ScriptArgs::to_argv() const {
  return {owner, host, pid, lease_ms, operand, waiter_ttl_ms, wake_prefix};
}

Script::Script(const char* body) : source(std::string(prelude) + body) {}

Scripts::Scripts()
    : acquire(acquire_body),
      poll(poll_body),
      leave(leave_body),
      renew(renew_body),
      release(release_body),
      clear(clear_body),
      inspect(inspect_body) {}

std::vector<std::string_view> evalsha_argv(const std::string& sha, const ScriptKeys& keys,
                                           const std::vector<std::string>& argv) {
  std::vector<std::string_view> out{"EVALSHA", sha, "4", keys.token, keys.holder, keys.queue, keys.alive};
  for (const auto& a : argv) out.push_back(a);
  return out;
}

}  // namespace baton::redis::detail
