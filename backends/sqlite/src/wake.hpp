// wake.hpp: wake-ups between the processes of one host that share one
// SQLite database, so a hand-off costs a futex wake, not a poll interval.
//
// The database cannot tell a waiter that something changed; polling `PRAGMA
// data_version` can, but only as fast as it polls, and 500 waiters polling
// every few milliseconds eat the CPU the holder needs. So next to the
// database file lives a small shared-memory file (`<db>-wake`, like SQLite's
// own `-shm`) with two tables of 32-bit words:
//
//   name slots    (by a hash of the lock name): how many waiters of names in
//                 this slot are queued right now. A release looks here first,
//                 so an uncontended release costs one memory load, not a
//                 query.
//   ticket words  (by ticket): a sequence number a queued waiter sleeps on
//                 with FUTEX_WAIT. Waking a ticket bumps it and FUTEX_WAKEs.
//   write words   (in the header): a count of baton's write transactions
//                 ended, and how many connections wait for the write lock.
//                 SQLite's write lock has no queue: a busy connection can only
//                 retry, and a retry loop either naps (and misses the commit
//                 by the nap) or yields (and keeps the CPU from the writer it
//                 waits for: stalls of a whole 4 ms scheduler tick were seen
//                 with 8 processes). It sleeps here until a writer ends.
//
// Collisions in either table only cost a spurious look. Everything here is a
// hint: the database stays the only truth, every sleep is bounded, and a
// waiter that is never woken (its waker died between commit and wake, or the
// file could not be created) still finds its turn by polling. A waiter that
// crashed leaves its slot count raised, which only makes releases of names in
// that slot look for a waiter that is not there; the first open after a
// reboot zeroes the file.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

namespace baton::sqlite::detail {

// The mapped file. Thread-safe (all access is atomic); not copyable, not
// movable (shared by pointer).
class WakeBoard {
 public:
  // Maps `<database>-wake`, creating it if needed. Returns nullptr when that
  // is impossible (a read-only directory, no shared memory): callers then
  // poll only.
  static std::shared_ptr<WakeBoard> open(const std::filesystem::path& database) noexcept;

  WakeBoard(const WakeBoard&) = delete;
  WakeBoard& operator=(const WakeBoard&) = delete;
  ~WakeBoard();

  // A waiter of `name` is about to queue / has stopped waiting. The count
  // must be raised before the transaction that queues, so a release that
  // commits after that transaction cannot miss it.
  void add_waiter(std::string_view name) noexcept;
  void remove_waiter(std::string_view name) noexcept;
  // Whether some waiter of `name` (or of a name sharing its slot) may be
  // queued: when false, nobody needs waking.
  bool may_have_waiters(std::string_view name) const noexcept { return waiters(name) != 0; }
  // The count itself (an over-estimate after collisions or crashes).
  std::uint32_t waiters(std::string_view name) const noexcept;

  // The current sequence number of `ticket`'s word. Read it before checking
  // the database, then pass it to sleep(): a wake in between is not lost.
  std::uint32_t sequence(std::int64_t ticket) const noexcept;
  // Sleeps until `ticket` is woken (or a collision) or `timeout` passes,
  // unless the word already moved past `seen`. Returns at once on a
  // non-positive timeout. Any thread.
  void sleep(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept;
  // Watches `ticket`'s word for up to `limit` without sleeping. True when it
  // moved past `seen`.
  bool spin(std::int64_t ticket, std::uint32_t seen, std::chrono::nanoseconds limit) const noexcept;
  // Wakes whoever sleeps on `ticket`. Never blocks, never throws.
  void wake(std::int64_t ticket) noexcept;

  // The number of write transactions ended so far (wraps). Read it before
  // trying the write lock, then pass it to wait_for_write().
  std::uint32_t writes() const noexcept;
  // Sleeps until a write transaction ends after `seen`, or `timeout` passes
  // (a writer that is not baton's wakes nobody). Any thread.
  void wait_for_write(std::uint32_t seen, std::chrono::nanoseconds timeout) noexcept;
  // A write transaction ended (committed or rolled back): wakes whoever
  // waits for the write lock. Never blocks, never throws.
  void wrote() noexcept;

  // Zeroes every count and word (first open after a reboot).
  void reset() noexcept;

 private:
  WakeBoard(void* base, std::size_t size) noexcept : base_(static_cast<std::uint32_t*>(base)), size_(size) {}
  std::uint32_t* slot(std::string_view name) const noexcept;
  std::uint32_t* word(std::int64_t ticket) const noexcept;

  std::uint32_t* base_;
  std::size_t size_;
};

}  // namespace baton::sqlite::detail
