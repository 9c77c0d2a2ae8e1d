// baton/redis_fence.hpp: fencing enforced at the resource, for data kept in
// Redis.
//
// A lock's fencing token (Lock::token()) only protects data if the data's
// store checks it: a holder that lost its lease while paused or cut off
// still believes it holds the lock, and its late write must be refused
// there. A Fence makes writes that Redis itself refuses when their token is
// stale:
//
//   baton::redis::Fence fence(options);                 // the data's server
//   fence.set("account:42", "balance=90", lock.token());  // may throw StaleToken
//
// Tokens are ordered per lock name: fence one key with the tokens of one
// lock name. Beside each fenced data key `<key>` the highest token
// admitted for it is kept under `<key>:baton-fence` (fence_key()). A write
// is one Lua script that compares its token with that one, and, when the
// token is at least as high, records it and makes the write; otherwise it
// writes nothing and the call throws StaleToken. Redis runs a script without interleaving
// another command, so check, record and write are atomic. Both keys share
// a hash tag when `<key>` has one ("{account:42}"), so in a cluster they
// live in one slot. The two keys are persisted and replicated together,
// so a server that loses writes (no persistence, failover) loses the
// record with the data it guarded.
//
// This header names no hiredis header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/redis.hpp"

namespace baton::redis {

// Fenced writes on one Redis server (Options::url; the connect and command
// timeouts apply, key_prefix does not: fenced keys are the caller's own).
//
// Thread-safety: every method may be called from any thread; calls on one
// Fence share one connection and run one at a time. Move-only.
class Fence {
 public:
  // Never blocks: connects on first use. Throws ConfigError for a malformed
  // url.
  explicit Fence(const Options& options);
  ~Fence();
  Fence(Fence&&) noexcept;
  Fence& operator=(Fence&&) noexcept;
  Fence(const Fence&) = delete;
  Fence& operator=(const Fence&) = delete;

  // SET `key` `value`, if `token` is at least the highest token admitted
  // for `key` (or none is); the token is then recorded in fence_key(key).
  // Throws StaleToken (resource `key`) and writes nothing when it is lower.
  // `token` must not be 0 (std::invalid_argument). Blocks for one round trip
  // (two on a connection's first use of the script), within the command
  // timeout: BackendUnavailable after it or when the server cannot be
  // reached, BackendError for an error reply.
  void set(std::string_view key, std::string_view value, std::uint64_t token);

  // Runs the Lua `script` with KEYS = `keys` and ARGV = `args`, as EVAL
  // would, after the check of `token` against the highest token admitted
  // for keys[0] (the resource; `keys` must not be empty,
  // std::invalid_argument), in the same script run: it runs only when the
  // token is admitted, and then after the token is recorded. Returns the
  // script's reply: nullopt for nil, the text of a string, status or
  // integer reply; an array reply is a BackendError (return one value,
  // cjson.encode() for several). An error the script raises is a
  // BackendError, and, Redis having no rollback, the writes it made before
  // it and the recorded token stay. Throws and blocks as set() does.
  std::optional<std::string> eval(std::string_view script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args, std::uint64_t token);

  // The key that holds the highest token admitted for `key`:
  // "<key>:baton-fence". Never blocks.
  static std::string fence_key(std::string_view key);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace baton::redis
