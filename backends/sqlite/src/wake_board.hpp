// wake_board.hpp: wake-ups between the processes of one host that share one
// SQLite database (docs/design.md §3.5), so a hand-off costs a futex wake,
// not a poll interval.
//
// The database cannot tell a waiter that something changed; polling `PRAGMA
// data_version` can, but only as fast as it polls, and hundreds of waiters
// polling every few milliseconds eat the CPU the holder needs. So the board
// keeps, in the wake file (wake_layout.hpp):
//
//   waiter counts  per slot of a name hash: how many waiters may be queued,
//                  so a release with nobody waiting costs a memory load.
//   wake words     per ticket: a queued waiter sleeps on its word; whoever
//                  frees the lock bumps the next waiter's word and wakes it.
//   write words    write transactions ended, and connections waiting for
//                  the write lock. SQLite's write lock has no queue: a busy
//                  connection can only retry, and a retry loop either naps
//                  (and misses the commit by the nap) or yields (and keeps
//                  the CPU from the writer it waits for). It sleeps here
//                  until a writer ends.
//   grant words    per ticket: the last ticket a hand-off granted, written
//                  after the commit, so the new holder learns of its grant
//                  without a read.
//   join requests  waiter rows posted for the next writer (join_requests.hpp).
//
// Collisions in the slot and ticket tables only cost a spurious look. Apart
// from a posted request (a waiter's place until its row is written) and a
// grant word's yes, everything here is a hint: the database stays the only
// truth, every sleep is bounded, and a waiter that is never woken (its
// waker died between commit and wake) still finds its turn by polling. A
// waiter that crashed leaves its slot count raised, which only makes
// releases of names in that slot look for a waiter that is not there; the
// first open after a reboot zeroes the file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "join_requests.hpp"
#include "wake_layout.hpp"

namespace baton::sqlite::detail {

// Thread-safe (all access is atomic); not copyable, not movable (shared by
// pointer).
class WakeBoard {
 public:
  // Maps `<database>-wake`. nullptr when that is impossible: callers then
  // poll only.
  static std::shared_ptr<WakeBoard> open(const std::filesystem::path& database) noexcept;
  WakeBoard(const WakeBoard&) = delete;
  WakeBoard& operator=(const WakeBoard&) = delete;

  // ---- waiter counts ----

  // A waiter of `name` is about to queue / has stopped waiting. The count
  // must be raised before the transaction that queues, so a release that
  // commits after that transaction cannot miss it.
  void add_waiter(std::string_view name) noexcept;
  void remove_waiter(std::string_view name) noexcept;
  // The count (an over-estimate after collisions or crashes).
  std::uint32_t waiters(std::string_view name) const noexcept;
  // Whether some waiter of `name` may be queued: when false, nobody needs
  // waking.
  bool may_have_waiters(std::string_view name) const noexcept { return waiters(name) != 0; }

  // ---- wake words and grant words, by ticket ----

  // The sequence of `ticket`'s word. Read it before checking the database,
  // then pass it to sleep(): a wake in between is not lost.
  std::uint32_t wake_sequence(std::int64_t ticket) const noexcept;
  // Sleeps until `ticket` is woken (or a collision) or `timeout` passes,
  // unless the word already moved past `seen`. Any thread.
  void sleep(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept;
  // Wakes whoever sleeps on `ticket`, and the poster of a join request
  // queued with that ticket. Never blocks.
  void wake(std::int64_t ticket) noexcept;
  // After a committed hand-off to `ticket`: records the grant, then wakes
  // it. Never blocks.
  void record_grant_and_wake(std::int64_t ticket) noexcept;
  // Whether a hand-off to `ticket` was committed. Tickets are never reused,
  // so true is certain; false says nothing (the word is shared by tickets
  // 4096 apart): read the database.
  bool granted(std::int64_t ticket) const noexcept;

  // ---- write words ----

  // Write transactions ended so far (wraps). Read it before trying the
  // write lock, then pass it to wait_for_write_end().
  std::uint32_t writes_ended() const noexcept;
  // Sleeps until a write transaction ends after `seen`, or `timeout` passes
  // (a writer that is not baton's wakes nobody). Any thread.
  void wait_for_write_end(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept;
  // A write transaction ended (committed or rolled back): wakes whoever
  // waits for the write lock. Never blocks.
  void write_ended() noexcept;

  JoinRequests& join_requests() noexcept { return joins_; }
  const JoinRequests& join_requests() const noexcept { return joins_; }

  // Zeroes every count and word, and frees every join request (first open
  // after a reboot, under the write lock).
  void reset() noexcept;

 private:
  explicit WakeBoard(std::unique_ptr<WakeMapping> mapping) noexcept;

  std::unique_ptr<WakeMapping> mapping_;
  WakeFile& file_;
  WaiterCounts counts_;
  TicketWords tickets_;
  JoinRequests joins_;
};

// Counts a waiter of `name` on `board` (may be null) for its lifetime. Not
// copyable, not movable.
class CountedWaiter {
 public:
  CountedWaiter(WakeBoard* board, std::string_view name) noexcept : board_(board), name_(name) {
    if (board_ != nullptr) board_->add_waiter(name_);
  }
  CountedWaiter(const CountedWaiter&) = delete;
  CountedWaiter& operator=(const CountedWaiter&) = delete;
  ~CountedWaiter() {
    if (board_ != nullptr) board_->remove_waiter(name_);
  }

 private:
  WakeBoard* board_;
  std::string_view name_;
};

}  // namespace baton::sqlite::detail
