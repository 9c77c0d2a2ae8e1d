// settings.hpp: the options of one backend with their defaults applied, and
// what a backend and all its locks share.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string_view>

#include "baton/sqlite.hpp"
#include "connection.hpp"
#include "connection_pool.hpp"
#include "host.hpp"
#include "wake_board.hpp"
#include "write_gate.hpp"

namespace baton::sqlite::detail {

// Options with defaults applied and the path made absolute, so every
// connection opened later (lazily, maybe after a chdir) opens the same file.
// Aggregate; copyable.
struct Settings {
  std::filesystem::path path;
  std::chrono::milliseconds busy_timeout;
  std::chrono::milliseconds heartbeat;
  std::chrono::milliseconds poll;
};

// Throws ConfigError for an empty path, BackendUnavailable when the path
// cannot be made absolute.
Settings settings_from(const Options& options);

// What a backend and all its locks share. Immutable after construction
// (the pool and the gate are thread-safe themselves); shared by pointer.
struct SharedState {
  Settings settings;
  std::shared_ptr<const Identity> identity;
  std::shared_ptr<WakeBoard> board;  // nullptr: waiters only poll
  // The process's write gate of this database (every backend of the file).
  std::shared_ptr<WriteGate> gate;
  // Idle connections of this backend's Locks.
  std::shared_ptr<ConnectionPool> pool;

  // Whether a waiter of `name` may be queued: without the board, always.
  bool may_have_waiters(std::string_view name) const noexcept { return !board || board->may_have_waiters(name); }
  // The same, for a caller that is itself counted (inside acquire()).
  bool others_may_wait(std::string_view name) const noexcept { return !board || board->waiters(name) > 1; }
  // The board's join requests; nullptr without the board.
  JoinRequests* join_requests() const noexcept { return board ? &board->join_requests() : nullptr; }

  std::unique_ptr<Connection> connect() const {
    return std::make_unique<Connection>(settings.path, identity, settings.busy_timeout, board, gate);
  }
  // A connection from the pool (or a new one) for one call.
  PooledConnection borrow() const {
    if (!pool) return PooledConnection(nullptr, connect());
    return PooledConnection(pool.get(), pool->take([this] { return connect(); }));
  }
};

}  // namespace baton::sqlite::detail
