// write_gate.hpp: one process's write transactions on one database file,
// one at a time, first come first served (docs/design.md §3.3).
//
// SQLite's write lock has no queue: every busy connection retries, and the
// one that wins is whichever happens to try right after a commit. With a
// thousand threads of one process contending, some lose every round until
// their busy timeout runs out, although the database is anything but
// wedged. So the connections of one process line up here first, in arrival
// order, and only the one at the front contends for SQLite's lock (with
// other processes' fronts). A wait in line is not a busy database: it is
// bounded by the caller's deadline and by the stall rule below, never by the
// time the writers ahead of it take.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stop_token>

#include "baton/backend.hpp"

namespace baton::sqlite::detail {

class WakeBoard;

// How a turn at the gate ended.
enum class GateEntry {
  admitted,     // the caller holds the gate: it must call leave()
  interrupted,  // the deadline passed or a stop was requested first
  stalled,      // no write transaction ended anywhere for `stall_limit`
};

// Thread-safe; not copyable, not movable (shared by pointer).
class WriteGate {
 public:
  // The gate of the database at `path` (absolute) in this process: every
  // backend of the file made by this process (not by its parent before a
  // fork) shares it.
  static std::shared_ptr<WriteGate> for_database(const std::filesystem::path& path);

  WriteGate() = default;
  WriteGate(const WriteGate&) = delete;
  WriteGate& operator=(const WriteGate&) = delete;

  // Blocks until the caller is at the front (admitted), `deadline` passes or
  // `stop` (may be null) is requested (interrupted), or the line has not
  // moved and no write transaction ended on `board` (may be null: the line
  // alone counts) for `stall_limit` (stalled). A past deadline still admits
  // a caller who finds the gate free. Any thread; not re-entrant.
  GateEntry enter(Clock::time_point deadline, const std::stop_token* stop, std::chrono::milliseconds stall_limit,
                  const WakeBoard* board);
  // Lets the next in line in. `wrote`: the turn ended a transaction (not a
  // failure), so those waiting count the line as moving.
  void leave(bool wrote) noexcept;

 private:
  struct Waiter;
  bool wait_turn(std::unique_lock<std::mutex>& guard, Waiter& me, Clock::time_point until,
                 const std::stop_token* stop);
  void unlink(Waiter& me) noexcept;

  std::mutex mu_;
  bool taken_ = false;
  Waiter* head_ = nullptr;  // first in line; each links to the next
  Waiter* tail_ = nullptr;
  Clock::time_point last_move_{};  // when a turn last ended with a transaction
};

// Holds an admitted turn at `gate` (null: none) for its lifetime. Not
// copyable, not movable.
class GateTurn {
 public:
  explicit GateTurn(WriteGate* gate) noexcept : gate_(gate) {}
  GateTurn(const GateTurn&) = delete;
  GateTurn& operator=(const GateTurn&) = delete;
  ~GateTurn() {
    if (gate_ != nullptr) gate_->leave(wrote_);
  }
  // The turn's transaction committed.
  void wrote() noexcept { wrote_ = true; }

 private:
  WriteGate* gate_;
  bool wrote_ = false;
};

}  // namespace baton::sqlite::detail
