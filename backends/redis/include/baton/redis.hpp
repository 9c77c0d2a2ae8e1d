// baton/redis.hpp: Redis backend: fair, leased, fenced locks with a
// one-round-trip hand-off.
//
// Every state change is a Lua script (run with EVALSHA, reloaded on
// NOSCRIPT) that reads time from the server's TIME, never the client clock.
// Each acquire draws an INCR ticket that is both its FIFO position and its
// fencing token; waiters sit in a sorted set by ticket, each with its own
// liveness deadline that the waiting client refreshes, so a dead waiter is
// pruned when its own deadline passes, whatever its position. Release (and
// clear) push a wake-up onto the new head waiter's own list, on which it
// blocks with BLPOP; a waiter never sleeps past the current lease's expiry.
//
// Keys, all under key_prefix, with the name binary-safe inside:
//   <prefix><name>:token    fencing-token counter (the only key that stays)
//   <prefix><name>:holder   the current grant, one string "token\nowner\nat\npid\nhost",
//                           expiring with the lease (SET PX)
//   <prefix><name>:queue    waiters by ticket
//   <prefix><name>:alive    waiters by liveness deadline
//   <prefix><name>:wake:<t> wake-up list of waiter t (expires)
// Two prefixes must not be prefixes of each other ("a:" and "a:b:").
//
// A server restart or failover loses the lease (a Redis without persistence
// forgets it): the holder's next renewal reports the loss, never a silent
// double grant. Token counters start from the server's clock in
// microseconds, so tokens keep increasing even across a restart that lost
// the counters.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "baton/backend.hpp"
#include "baton/registry.hpp"

namespace baton::redis {

// Aggregate; copyable. Config keys in brackets (section "redis").
struct Options {
  // [url] redis://[user:password@]host[:port][/db]; user and password may be
  // percent-encoded; use ${VAR} in the config for the password.
  std::string url = "redis://127.0.0.1:6379/0";
  // [key_prefix] Prefix of every key baton writes.
  std::string key_prefix = "baton:";
  // [connect_timeout_ms] Bound on connecting (an unreachable server is
  // BackendUnavailable within it). Zero: 5 s.
  std::chrono::milliseconds connect_timeout{0};
  // [command_timeout_ms] Bound on one command's reply. Zero: 5 s.
  std::chrono::milliseconds command_timeout{0};
  // [heartbeat_ms] How often a waiter refreshes its liveness; a waiter
  // silent for 3 intervals is pruned from the queue. Zero: 1 s.
  std::chrono::milliseconds heartbeat_interval{0};
  // [pool_size] Idle connections kept for reuse. Zero: 8.
  unsigned pool_size = 0;
};

// A backend on the server `options.url` names. Connects lazily, so it never
// blocks; throws ConfigError for a malformed url.
std::shared_ptr<Backend> make_backend(const Options& options);

// Options from a config section. Throws ConfigError naming the key.
Options options_from_config(const nlohmann::json& section);

// Registers "redis" in `registry` (baton::register_builtin_backends() does
// this for every built-in backend).
void register_backend(Registry& registry);

}  // namespace baton::redis
