// baton/postgres.hpp: PostgreSQL backend on session-level advisory locks.
//
// Each waiting or holding Lock has its own connection on which it runs
// pg_advisory_lock(key): the server keeps the FIFO queue and frees the lock
// the moment that connection dies. The lease is the connection's
// idle_session_timeout (the server kills a session idle longer than the
// lease, freeing its lock, even if the client process hangs); renewal is a
// round trip before it fires. Fencing tokens and holder details live in a
// small table, baton_locks, in a configurable schema.
//
// Key: the first 8 bytes of SHA-1 of the name, big-endian, as a signed
// int64: the key py-postgresql-lock computes, so Python processes using
// that library and baton exclude each other ("my-lock" ->
// 4791209619368833285). Names that collide on the key contend (correctly).
//
// Never use it behind a transaction-pooling PgBouncer: session advisory locks
// need a session. A lease that is not renewed on the session that took it is
// reported lost (the renewal checks the backend pid).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "baton/backend.hpp"
#include "baton/registry.hpp"

namespace baton::postgres {

// Aggregate; copyable. Config keys in brackets (section "postgres").
struct Options {
  // [dsn] libpq connection string, URI ("postgresql://user@host:5432/db")
  // or key=value. Use ${VAR} in the config for the password.
  std::string dsn;
  // [schema] Schema of the baton_locks table (created on first use).
  std::string schema = "baton";
  // [connect_timeout_ms] Bound on opening a connection; an unreachable
  // server is BackendUnavailable within it. Zero: 5 s.
  std::chrono::milliseconds connect_timeout{0};
  // [command_timeout_ms] Bound on any statement that does not wait for a
  // lock (renew, release, inspect). Zero: 5 s.
  std::chrono::milliseconds command_timeout{0};
  // [client_check_ms] client_connection_check_interval of every session, so
  // the server notices a dead client even while its session waits for a
  // lock (a killed waiter leaves the queue). Zero: 1 s.
  std::chrono::milliseconds client_check_interval{0};
  // [pool_size] Idle connections kept for reuse after release. Zero: 8.
  unsigned pool_size = 0;
};

// The advisory-lock key of `name` (see above).
std::int64_t advisory_key(std::string_view name);

// A backend on the server `options.dsn` names. Connects lazily (the first
// call that needs the server), so it never blocks; throws ConfigError for a
// malformed dsn or schema.
std::shared_ptr<Backend> make_backend(const Options& options);

// Options from a config section. Throws ConfigError naming the key.
Options options_from_config(const nlohmann::json& section);

// Registers "postgres" in `registry` (baton::register_builtin_backends() does
// this for every built-in backend).
void register_backend(Registry& registry);

}  // namespace baton::postgres
