#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <stop_token>

#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/redis.hpp"
#include "redis_connection.hpp"

namespace baton::redis {
namespace {

using internal::Connection;
using internal::Reply;
using std::chrono::milliseconds;

// Shared by every script. KEYS: 1 token counter, 2 holder, 3 queue (ticket
// -> ticket), 4 alive (ticket -> liveness deadline, server ms). ARGV: 1
// owner, 2 host, 3 pid, 4 ttl ms (0: forever), 5 ticket / mode / token,
// 6 waiter liveness ms, 7 wake-key prefix.
//
// The holder is one string, "token\nowner\nat\npid\nhost" (owner ids are
// hex, host names have no newline), set with its lease in one SET PX: a
// hash took an HSET and a PEXPIRE, and every script call costs.
constexpr const char* prelude = R"lua(
-- Lua numbers are doubles and redis.call formats them with %.14g, which
-- would mangle 16-digit tokens: every number goes out through num().
local function num(n) return string.format('%d', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Waiters whose own liveness deadline passed are gone, wherever they stand.
local function prune(now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', num(now))
  for _, t in ipairs(dead) do
    redis.call('ZREM', KEYS[3], t)
    redis.call('DEL', ARGV[7] .. t)
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', num(now)) end
end
-- A free lock with waiters: tell the head to take it (it grants itself).
local function wake_head()
  if redis.call('EXISTS', KEYS[2]) == 1 then return end
  local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if head then
    local key = ARGV[7] .. head
    redis.call('RPUSH', key, '1')
    redis.call('PEXPIRE', key, ARGV[6])
  end
end
-- Counters start at the server clock in microseconds, so tokens still grow
-- after a restart that lost the counter. INCR answering 1 means the counter
-- was missing (1 itself is never handed out).
local function next_token()
  local t = redis.call('INCR', KEYS[1])
  if t ~= 1 then return t end
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
  return redis.call('INCR', KEYS[1])
end
local function grant(token, now)
  local v = num(token) .. '\n' .. ARGV[1] .. '\n' .. num(now) .. '\n' .. ARGV[3] .. '\n' .. ARGV[2]
  if tonumber(ARGV[4]) > 0 then
    redis.call('SET', KEYS[2], v, 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[2], v)
  end
end
-- The holder's fields: token, owner, at, pid, host (nil when free).
local function holder()
  local v = redis.call('GET', KEYS[2])
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
-- The token of a holder value whose owner is ARGV[1], else nil.
local function owned_token(v)
  if not v then return nil end
  local i = string.find(v, '\n', 1, true)
  if string.sub(v, i + 1, i + #ARGV[1] + 1) == ARGV[1] .. '\n' then return string.sub(v, 1, i - 1) end
  return nil
end
-- Sets the holder's lease to ARGV[4] ms (0: forever).
local function set_lease()
  if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) else redis.call('PERSIST', KEYS[2]) end
end
-- Takes ticket t out of the queue: its place, its liveness, its wake-up list.
local function dequeue(t)
  redis.call('ZREM', KEYS[3], t)
  redis.call('ZREM', KEYS[4], t)
  redis.call('DEL', ARGV[7] .. t)
end
local function holder_is(owner, token)
  local v = redis.call('GET', KEYS[2])
  local p = token .. '\n' .. owner .. '\n'
  return v ~= false and string.sub(v, 1, #p) == p
end
-- Owner ids are unique per Lock instance, and a Lock only asks for a grant
-- when it believes it holds none: a grant already carrying its owner id is
-- one whose reply was lost (a timed-out call the server ran later).
local function phantom_token()
  return owned_token(redis.call('GET', KEYS[2]))
end
)lua";

// ARGV[5]: 'try' (never queue) or 'queue'. Returns {1, token} when granted,
// {0, ticket, pttl} when queued, {0, 0, 0} when a try found it busy.
constexpr const char* acquire_body = R"lua(
-- The uncontended case first, with as few calls as it takes: no holder and
-- no queue (then there are no waiters to prune either).
local v = redis.call('GET', KEYS[2])
local mine = owned_token(v)
if mine then
  -- A grant of ours whose reply was lost (see phantom_token): adopt it.
  set_lease()
  return {1, tonumber(mine)}
end
local now = now_ms()
if not v then
  local queued = redis.call('EXISTS', KEYS[3])
  if queued == 1 then
    prune(now)
    queued = redis.call('EXISTS', KEYS[3])
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
if ARGV[5] == 'try' then return {0, 0, 0} end
local t = next_token()
redis.call('ZADD', KEYS[3], num(t), num(t))
redis.call('ZADD', KEYS[4], num(now + tonumber(ARGV[6])), num(t))
return {0, t, redis.call('PTTL', KEYS[2])}
)lua";

// ARGV[5]: my ticket. Returns {1, token} when granted, {-1} when my ticket
// was pruned (I was silent too long), else {0, holder pttl, 1 if I am head}.
// A grant already carrying my owner id is one whose reply I never read (a
// poll pipelined on a connection I gave up on, run late): it is adopted, as
// by acquire, instead of queueing behind myself.
constexpr const char* poll_body = R"lua(
local now = now_ms()
prune(now)
local me = ARGV[5]
if not redis.call('ZSCORE', KEYS[3], me) then return {-1} end
local phantom = phantom_token()
if phantom then
  dequeue(me)
  set_lease()
  return {1, tonumber(phantom)}
end
redis.call('ZADD', KEYS[4], num(now + tonumber(ARGV[6])), me)
local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
if head == me and redis.call('EXISTS', KEYS[2]) == 0 then
  dequeue(me)
  grant(me, now)
  return {1, tonumber(me)}
end
wake_head()
return {0, redis.call('PTTL', KEYS[2]), head == me and 1 or 0}
)lua";

// ARGV[5]: my ticket (or ""). Leaves the queue without a trace, including a
// grant whose reply never reached me (a cancelled or broken call).
constexpr const char* leave_body = R"lua(
if phantom_token() then redis.call('DEL', KEYS[2]) end
dequeue(ARGV[5])
prune(now_ms())
wake_head()
return 1
)lua";

// ARGV[5]: my token. Compare-and-set on owner and token.
constexpr const char* renew_body = R"lua(
if not holder_is(ARGV[1], ARGV[5]) then return 0 end
set_lease()
return 1
)lua";

constexpr const char* release_body = R"lua(
local mine = holder_is(ARGV[1], ARGV[5])
if mine then redis.call('DEL', KEYS[2]) end
-- No queue, no waiter to prune or wake.
if redis.call('EXISTS', KEYS[3]) == 1 then
  prune(now_ms())
  wake_head()
end
return mine and 1 or 0
)lua";

constexpr const char* clear_body = R"lua(
local existed = redis.call('DEL', KEYS[2])
prune(now_ms())
wake_head()
return existed
)lua";

// {held, token, owner, host, pid, acquired ms, pttl, live waiters}
constexpr const char* inspect_body = R"lua(
local now = now_ms()
local waiters = redis.call('ZCOUNT', KEYS[4], '(' .. num(now), '+inf')
local h = holder()
if not h then return {0, 0, '', '', 0, 0, 0, waiters} end
return {1, h[1], h[2], h[5], h[4], h[3], redis.call('PTTL', KEYS[2]), waiters}
)lua";

struct Script {
  explicit Script(const char* body) : source(std::string(prelude) + body) {}
  std::string source;
  std::string sha;  // learned from SCRIPT LOAD; guarded by the backend's mutex
};

class RedisBackend;

class RedisLock final : public BackendLock {
 public:
  RedisLock(std::shared_ptr<RedisBackend> backend, std::string name, Owner owner);
  ~RedisLock() override;

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  std::vector<std::string> args(std::string_view arg5, milliseconds ttl) const;
  Reply run(Script& script, std::string_view arg5, milliseconds ttl);
  Reply wait_and_poll(Connection& c, milliseconds wait, const std::string& ticket, milliseconds ttl);
  Connection& conn();
  void give_back();
  void leave(std::string_view ticket) noexcept;

  std::shared_ptr<RedisBackend> backend_;
  std::vector<std::string> keys_;
  std::string wake_prefix_;
  Owner owner_;
  std::string pid_;
  // Replaced only by the calling thread, under conn_mu_, so a stop callback
  // on another thread can interrupt whichever connection is current.
  std::mutex conn_mu_;
  std::unique_ptr<Connection> conn_;
  // Set (under conn_mu_) while a call whose reply we must read runs: a stop
  // request then leaves the connection alone and is seen after the call.
  bool shielded_ = false;
  std::uint64_t token_ = 0;
  // An acquire failed after its script may have reached the server (or a
  // pipelined poll is in flight): a grant or queue entry of ours may exist
  // there. Cleaned up by the next acquire (which adopts such a grant) or,
  // best effort, by the destructor.
  bool uncertain_ = false;
};

std::string ms_arg(milliseconds ttl) { return ttl == forever ? "0" : std::to_string(ttl.count()); }

long long as_int(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return std::stoll(std::string(r->str, r->len));
  return 0;
}
std::string as_str(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::to_string(as_int(r));
}

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(Options options)
      : options_(std::move(options)), endpoint_(internal::parse_url(options_.url)) {}

  std::string_view kind() const noexcept override { return "redis"; }

  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override {
    return std::make_unique<RedisLock>(std::static_pointer_cast<RedisBackend>(shared_from_this()),
                                       std::string(name), owner);
  }

  LockInfo inspect(std::string_view name) override {
    auto c = checkout();
    auto r = eval(*c, inspect_, keys_for(name), {"", "", "", "0", "", "0", ""});
    checkin(std::move(c));
    return to_info(name, r.get());
  }

  std::vector<LockInfo> list() override {
    auto c = checkout();
    std::vector<LockInfo> out;
    const std::string pattern = glob_escape(options_.key_prefix) + "*:holder";
    std::string cursor = "0";
    do {
      auto r = internal::check(c->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}),
                               endpoint_.describe() + ": SCAN");
      cursor = as_str(r->element[0]);
      const redisReply* keys = r->element[1];
      for (std::size_t i = 0; i < keys->elements; ++i) {
        std::string key = as_str(keys->element[i]);
        const std::string name =
            key.substr(options_.key_prefix.size(), key.size() - options_.key_prefix.size() - 7);
        if (name.empty()) continue;
        auto info = to_info(name, eval(*c, inspect_, keys_for(name), {"", "", "", "0", "", "0", ""}).get());
        if (info.held) out.push_back(std::move(info));
      }
    } while (cursor != "0");
    checkin(std::move(c));
    return out;
  }

  bool clear(std::string_view name) override {
    auto c = checkout();
    auto r = eval(*c, clear_, keys_for(name), {"", "", "", "0", "", std::to_string(waiter_ttl().count()),
                                               wake_prefix(name)});
    checkin(std::move(c));
    return as_int(r.get()) == 1;
  }

  std::vector<std::string> keys_for(std::string_view name) const {
    const std::string base = options_.key_prefix + std::string(name);
    return {base + ":token", base + ":holder", base + ":queue", base + ":alive"};
  }
  std::string wake_prefix(std::string_view name) const {
    return options_.key_prefix + std::string(name) + ":wake:";
  }

  // Runs a script by EVALSHA, loading it on first use and after NOSCRIPT (a
  // restarted server forgot it). Throws on error replies.
  Reply eval(Connection& c, Script& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args) {
    std::string sha;
    {
      std::lock_guard lock(mu_);
      sha = script.sha;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (sha.empty()) sha = load(c, script);
      std::string nkeys;
      auto r = c.command(evalsha_argv(sha, keys, args, nkeys));
      if (is_noscript(r.get())) {
        sha.clear();
        continue;
      }
      return internal::check(std::move(r), endpoint_.describe() + ": script");
    }
    throw BackendError(endpoint_.describe() + ": the server keeps forgetting baton's scripts");
  }

  // The SHA of `script`, loading it first if this backend never did: for a
  // pipelined EVALSHA, whose NOSCRIPT the caller handles (by eval()).
  std::string sha(Connection& c, Script& script) {
    {
      std::lock_guard lock(mu_);
      if (!script.sha.empty()) return script.sha;
    }
    return load(c, script);
  }

  // EVALSHA sha nkeys keys... args...; `nkeys` holds the count.
  static std::vector<std::string_view> evalsha_argv(const std::string& sha, const std::vector<std::string>& keys,
                                                    const std::vector<std::string>& args, std::string& nkeys) {
    nkeys = std::to_string(keys.size());
    std::vector<std::string_view> argv{"EVALSHA", sha, nkeys};
    for (const auto& k : keys) argv.push_back(k);
    for (const auto& a : args) argv.push_back(a);
    return argv;
  }

  static bool is_noscript(const redisReply* r) {
    return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).substr(0, 8) == "NOSCRIPT";
  }

  std::unique_ptr<Connection> checkout() {
    {
      std::lock_guard lock(mu_);
      while (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        if (!c->dead()) return c;
      }
    }
    return Connection::open(endpoint_, connect_timeout(), command_timeout());
  }

  void checkin(std::unique_ptr<Connection> c) {
    if (!c || c->dead()) return;
    std::lock_guard lock(mu_);
    if (pool_.size() < (options_.pool_size > 0 ? options_.pool_size : 8)) pool_.push_back(std::move(c));
  }

  milliseconds heartbeat() const {
    return options_.heartbeat_interval > milliseconds::zero() ? options_.heartbeat_interval : std::chrono::seconds(1);
  }
  milliseconds waiter_ttl() const { return 3 * heartbeat(); }
  milliseconds command_timeout() const {
    return options_.command_timeout > milliseconds::zero() ? options_.command_timeout : std::chrono::seconds(5);
  }
  milliseconds connect_timeout() const {
    return options_.connect_timeout > milliseconds::zero() ? options_.connect_timeout : std::chrono::seconds(5);
  }
  const internal::Endpoint& endpoint() const { return endpoint_; }

  Script acquire_{acquire_body}, poll_{poll_body}, leave_{leave_body}, renew_{renew_body},
      release_{release_body}, clear_{clear_body}, inspect_{inspect_body};

 private:
  std::string load(Connection& c, Script& script) {
    auto loaded = internal::check(c.command({"SCRIPT", "LOAD", script.source}), endpoint_.describe() + ": SCRIPT LOAD");
    std::string sha = as_str(loaded.get());
    std::lock_guard lock(mu_);
    script.sha = sha;
    return sha;
  }

  static std::string glob_escape(const std::string& s) {
    std::string out;
    for (char ch : s) {
      if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out += '\\';
      out += ch;
    }
    return out;
  }

  static LockInfo to_info(std::string_view name, const redisReply* r) {
    LockInfo info;
    info.name = name;
    info.waiters = static_cast<std::size_t>(as_int(r->element[7]));
    if (as_int(r->element[0]) != 1) return info;
    info.held = true;
    info.token = static_cast<std::uint64_t>(as_int(r->element[1]));
    info.owner = as_str(r->element[2]);
    info.host = as_str(r->element[3]);
    info.pid = as_int(r->element[4]);
    info.acquired_at = std::chrono::system_clock::time_point(milliseconds(as_int(r->element[5])));
    const long long pttl = as_int(r->element[6]);
    info.expires_in = pttl < 0 ? forever : milliseconds(pttl);
    return info;
  }

  const Options options_;
  const internal::Endpoint endpoint_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> pool_;
};

RedisLock::RedisLock(std::shared_ptr<RedisBackend> backend, std::string name, Owner owner)
    : backend_(std::move(backend)),
      keys_(backend_->keys_for(name)),
      wake_prefix_(backend_->wake_prefix(name)),
      owner_(std::move(owner)),
      pid_(std::to_string(owner_.pid)) {}

RedisLock::~RedisLock() {
  if (uncertain_) leave("");
}

Connection& RedisLock::conn() {
  if (!conn_ || conn_->dead()) {
    auto fresh = backend_->checkout();
    std::lock_guard lock(conn_mu_);
    conn_ = std::move(fresh);
  }
  return *conn_;
}

void RedisLock::give_back() {
  std::unique_ptr<Connection> c;
  {
    std::lock_guard lock(conn_mu_);
    c = std::move(conn_);
  }
  backend_->checkin(std::move(c));
}

std::vector<std::string> RedisLock::args(std::string_view arg5, milliseconds ttl) const {
  return {owner_.id, owner_.host, pid_, ms_arg(ttl), std::string(arg5),
          std::to_string(backend_->waiter_ttl().count()), wake_prefix_};
}

Reply RedisLock::run(Script& script, std::string_view arg5, milliseconds ttl) {
  return backend_->eval(conn(), script, keys_, args(arg5, ttl));
}

// BLPOP on the wake key with the poll script pipelined behind it on the same
// connection: the server runs the poll the moment the BLPOP returns (woken,
// or timed out: then the poll is the heartbeat), so a wake-up becomes a grant
// without a client round trip in between. A waiter killed while blocked
// takes its connection, and so its unsent poll, with it. Returns the poll's
// reply (error replies thrown, as by run()).
Reply RedisLock::wait_and_poll(Connection& c, milliseconds wait, const std::string& ticket, milliseconds ttl) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(wait.count()) / 1000.0);
  const std::string sha = backend_->sha(c, backend_->poll_);
  const auto poll_args = args(ticket, ttl);
  std::string nkeys;
  // From here until both replies are read, the server may grant us the lock
  // without our knowing: a failure leaves it to leave() or the next acquire.
  uncertain_ = true;
  auto replies = c.pipeline({{"BLPOP", wake_prefix_ + ticket, seconds}, RedisBackend::evalsha_argv(sha, keys_, poll_args, nkeys)}, wait);
  uncertain_ = false;
  Reply& woke = replies[0];
  Reply& poll = replies[1];
  const bool granted = poll->type == REDIS_REPLY_ARRAY && poll->elements > 0 && as_int(poll->element[0]) == 1;
  if (!granted) internal::check(std::move(woke), backend_->endpoint().describe() + ": BLPOP");
  // A server that forgot the script (restarted) ran nothing: poll again,
  // loading it.
  if (RedisBackend::is_noscript(poll.get())) return run(backend_->poll_, ticket, ttl);
  return internal::check(std::move(poll), backend_->endpoint().describe() + ": script");
}

std::optional<std::uint64_t> RedisLock::try_acquire(milliseconds ttl) {
  uncertain_ = true;
  auto r = run(backend_->acquire_, "try", ttl);
  uncertain_ = false;
  if (as_int(r->element[0]) == 1) {
    token_ = static_cast<std::uint64_t>(as_int(r->element[1]));
    return token_;
  }
  give_back();
  return std::nullopt;
}

std::optional<std::uint64_t> RedisLock::acquire(Clock::time_point deadline, milliseconds ttl, std::stop_token stop) {
  uncertain_ = true;
  auto r = run(backend_->acquire_, "queue", ttl);
  uncertain_ = false;
  if (as_int(r->element[0]) == 1) {
    token_ = static_cast<std::uint64_t>(as_int(r->element[1]));
    return token_;
  }
  std::string ticket = as_str(r->element[1]);
  long long pttl = as_int(r->element[2]);
  bool head = false;
  // A stop request shuts the socket, ending a BLPOP at once; the queue entry
  // is then removed on a fresh connection.
  std::stop_callback on_stop(stop, [this] {
    std::lock_guard lock(conn_mu_);
    if (conn_ && !shielded_) conn_->interrupt();
  });
  for (;;) {
    const auto now = Clock::now();
    if (stop.stop_requested() || now >= deadline) {
      leave(ticket);
      return std::nullopt;
    }
    // Sleep until woken, but never past the heartbeat, the deadline, or (for
    // the head) the holder's lease: expiry wakes nobody.
    milliseconds wait = backend_->heartbeat();
    if (deadline != Clock::time_point::max()) {
      wait = std::min(wait, std::chrono::ceil<milliseconds>(deadline - now));
    }
    if (head && pttl >= 0) wait = std::min(wait, milliseconds(pttl + 1));
    wait = std::max(wait, milliseconds(1));
    try {
      // A stop request interrupts the connection current when it comes.
      // One that came before conn() interrupted a connection conn() just
      // replaced: it must be seen here, or we would block a whole wait on
      // the new one. One that comes after interrupts `c`.
      Connection& c = conn();
      if (stop.stop_requested()) continue;
      auto p = wait_and_poll(c, wait, ticket, ttl);
      const long long state = as_int(p->element[0]);
      if (state == 1) {
        token_ = static_cast<std::uint64_t>(as_int(p->element[1]));
        return token_;
      }
      if (state == -1) {
        // Pruned as dead (this process stalled past its liveness): queue
        // again. A stop must not cut this call short: the new ticket would
        // be queued on the server unknown to us, and leave() would remove
        // the old one instead (seen in CI: a stale entry after a stop). It
        // is one short script; the stop is seen right after it.
        {
          std::lock_guard lock(conn_mu_);
          shielded_ = true;
        }
        struct Unshield {
          RedisLock* self;
          ~Unshield() {
            std::lock_guard lock(self->conn_mu_);
            self->shielded_ = false;
          }
        } unshield{this};
        auto again = run(backend_->acquire_, "queue", ttl);
        if (as_int(again->element[0]) == 1) {
          token_ = static_cast<std::uint64_t>(as_int(again->element[1]));
          return token_;
        }
        ticket = as_str(again->element[1]);
        pttl = as_int(again->element[2]);
        head = false;
        continue;
      }
      pttl = as_int(p->element[1]);
      head = as_int(p->element[2]) == 1;
    } catch (const BackendUnavailable&) {
      if (stop.stop_requested()) continue;  // our own interrupt: leave above
      leave(ticket);
      uncertain_ = true;
      throw;
    }
  }
}

void RedisLock::leave(std::string_view ticket) noexcept {
  // The connection we waited on may have died unnoticed (the server closed
  // it): one more try on another. When a connection taken just for this
  // fails, the server is out of reach, and more tries would only delay the
  // error the caller is about to report.
  for (bool fresh = false; !fresh;) {
    fresh = !conn_ || conn_->dead();
    try {
      run(backend_->leave_, ticket, milliseconds(0));
      uncertain_ = false;
      give_back();
      return;
    } catch (...) {
      std::lock_guard lock(conn_mu_);
      conn_.reset();
    }
  }
  // Unreachable: our entry is pruned when its liveness deadline passes.
}

bool RedisLock::renew(milliseconds ttl) {
  auto r = run(backend_->renew_, std::to_string(token_), ttl);
  return as_int(r.get()) == 1;
}

bool RedisLock::release() {
  auto r = run(backend_->release_, std::to_string(token_), milliseconds(0));
  give_back();
  return as_int(r.get()) == 1;
}

}  // namespace

std::shared_ptr<Backend> make_backend(const Options& options) { return std::make_shared<RedisBackend>(options); }

Options options_from_config(const nlohmann::json& section) {
  ConfigSection s(section, "redis");
  Options o;
  o.url = s.string("url", o.url);
  o.key_prefix = s.string("key_prefix", o.key_prefix);
  if (auto v = s.milliseconds("connect_timeout_ms", milliseconds(1), std::chrono::minutes(10))) o.connect_timeout = *v;
  if (auto v = s.milliseconds("command_timeout_ms", milliseconds(1), std::chrono::minutes(10))) o.command_timeout = *v;
  if (auto v = s.milliseconds("heartbeat_ms", milliseconds(10), std::chrono::minutes(10))) o.heartbeat_interval = *v;
  if (auto v = s.integer("pool_size", 1, 1024)) o.pool_size = static_cast<unsigned>(*v);
  s.finish();
  internal::parse_url(o.url);  // ConfigError now rather than at first use
  return o;
}

void register_backend(Registry& registry) {
  registry.add("redis", [](const nlohmann::json& section) { return make_backend(options_from_config(section)); });
}

}  // namespace baton::redis
