// The Redis backend's two classes (docs/design.md §5): the backend, which
// owns the connection pool and the scripts, and the lock, which owns the
// connection it waits on. Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "baton/backend.hpp"
#include "baton/kit/connection_pool.hpp"
#include "baton/redis.hpp"
#include "redis_connection.hpp"
#include "redis_scripts.hpp"

namespace baton::redis::detail {

// Thread-safe: any thread may call it.
class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(Options options);

  std::string_view kind() const noexcept override { return "redis"; }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override;
  LockInfo inspect(std::string_view name) override;
  std::vector<LockInfo> list() override;
  bool clear(std::string_view name) override;

  ScriptKeys keys_for(std::string_view name) const { return ScriptKeys::of(options_.key_prefix, name); }
  std::string wake_prefix(std::string_view name) const { return wake_prefix_of(options_.key_prefix, name); }

  // Runs `script` by EVALSHA, loading it on first use and after NOSCRIPT (a
  // restarted server forgot it). Throws on error replies.
  Reply eval(Connection& c, Script& script, const ScriptKeys& keys, const ScriptArgs& args);
  // The SHA of `script`, loading it first if this backend never did: for a
  // pipelined EVALSHA, whose NOSCRIPT the caller handles.
  std::string sha(Connection& c, Script& script);

  // A pooled connection, or a new one.
  std::unique_ptr<Connection> take_connection() { return pool_.take(); }
  // Keeps `c` for reuse unless it is dead or the pool is full.
  void give_back(std::unique_ptr<Connection> c) { pool_.give_back(std::move(c)); }

  std::chrono::milliseconds heartbeat() const;
  // How long a waiter stays queued without a poll: three heartbeats (§5.3).
  std::chrono::milliseconds waiter_ttl() const { return 3 * heartbeat(); }
  const Endpoint& endpoint() const { return endpoint_; }

  Scripts scripts;

 private:
  std::string load(Connection& c, Script& script);
  LockInfo inspect_on(Connection& c, std::string_view name);

  const Options options_;
  const Endpoint endpoint_;
  std::mutex sha_mu_;  // guards every Script::sha
  kit::ConnectionPool<Connection> pool_;
};

// One Lock instance's side in Redis. Called from one thread at a time,
// except that a stop request may interrupt its connection from another.
class RedisLock final : public BackendLock {
 public:
  RedisLock(std::shared_ptr<RedisBackend> backend, std::string name, Owner owner);
  ~RedisLock() override;

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, std::chrono::milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds ttl) override;
  bool renew(std::chrono::milliseconds ttl) override;
  bool release() override;

 private:
  // Where a queued acquire stands, from the last script that answered.
  struct Place {
    std::string ticket;
    long long holder_pttl = -1;  // the holder's lease left, ms; negative: none or forever
    bool head = false;           // first in the queue
  };

  ScriptArgs script_args(std::string operand, std::chrono::milliseconds ttl) const;
  Reply run(Script& script, std::string operand, std::chrono::milliseconds ttl);
  Reply enter_queue(std::chrono::milliseconds ttl);
  std::optional<std::uint64_t> wait_in_queue(Place place, Clock::time_point deadline, std::chrono::milliseconds ttl,
                                             const std::stop_token& stop);
  std::chrono::milliseconds next_wait(const Place& place, Clock::time_point deadline) const;
  Reply wait_and_poll(Connection& c, std::chrono::milliseconds wait, const std::string& ticket,
                      std::chrono::milliseconds ttl);
  Reply enter_queue_shielded(std::chrono::milliseconds ttl);
  std::uint64_t granted(const Reply& reply);
  void interrupt_unless_shielded() noexcept;
  Connection& conn();
  void give_back();
  void leave(std::string_view ticket) noexcept;

  std::shared_ptr<RedisBackend> backend_;
  const ScriptKeys keys_;
  const std::string wake_prefix_;
  const Owner owner_;
  const std::string pid_;
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

// Reply helpers: an integer or string element as a number or as text.
long long as_int(const redisReply* r);
std::string as_str(const redisReply* r);
// A NOSCRIPT error reply: the server does not know the script (it restarted).
bool is_noscript(const redisReply* r);

}  // namespace baton::redis::detail
