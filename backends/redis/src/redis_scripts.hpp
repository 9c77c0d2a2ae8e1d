// The Lua scripts of the Redis backend (docs/design.md §5.2) and the keys
// and arguments every one of them takes.
//
// Every script runs with the same four keys and seven arguments, so that one
// shared prelude of helpers serves them all; a script ignores what it does
// not use. The prelude names them (TOKEN_KEY ... WAKE_PREFIX) before any
// code reads them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::redis::detail {

// KEYS of every script, in order (§5.1).
struct ScriptKeys {
  std::string token;   // KEYS[1] TOKEN_KEY: the ticket and token counter
  std::string holder;  // KEYS[2] HOLDER_KEY: the grant, "token\nowner\nat\npid\nhost", expiring with the lease
  std::string queue;   // KEYS[3] QUEUE_KEY: waiting tickets, scored by ticket
  std::string alive;   // KEYS[4] ALIVE_KEY: waiting tickets, scored by liveness deadline (server ms)

  // The keys of lock `name` under `prefix`.
  static ScriptKeys of(std::string_view prefix, std::string_view name);
};

// The wake-up list prefix of lock `name`: a waiter's list is this plus its
// ticket.
std::string wake_prefix_of(std::string_view prefix, std::string_view name);

// ARGV of every script, in order. Numbers travel as decimal text.
struct ScriptArgs {
  std::string owner;              // ARGV[1] OWNER: the Lock instance's owner id
  std::string host;               // ARGV[2] HOST
  std::string pid;                // ARGV[3] PID
  std::string lease_ms = "0";     // ARGV[4] LEASE_MS: the lease to grant or renew; "0" never expires
  std::string operand;            // ARGV[5] OPERAND: acquire's mode ("try" or "queue"), poll's and leave's
                                  //   ticket, renew's and release's token
  std::string waiter_ttl_ms = "0";  // ARGV[6] WAITER_TTL_MS: how long a waiter stays alive without a poll
  std::string wake_prefix;        // ARGV[7] WAKE_PREFIX: see wake_prefix_of()

  std::vector<std::string> to_argv() const;
};

// One script: its source (the prelude and its body) and, once loaded, its
// SHA on the server. The SHA is guarded by its owner's mutex.
struct Script {
  explicit Script(const char* body);
  std::string source;
  std::string sha;
};

// Every script of the backend; each body's comment says what it returns.
struct Scripts {
  Script acquire, poll, leave, renew, release, clear, inspect;
  Scripts();
};

// EVALSHA sha 4 KEYS... ARGV...: views into `keys` and `argv`, which must
// outlive the result.
std::vector<std::string_view> evalsha_argv(const std::string& sha, const ScriptKeys& keys,
                                           const std::vector<std::string>& argv);

}  // namespace baton::redis::detail
