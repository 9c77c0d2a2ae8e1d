// join_requests.hpp: waiter rows posted in the wake file for the next
// writer to insert (docs/design.md §3.3, §3.5).
//
// A waiter that finds others already waiting does not take the write lock
// to queue itself: it posts its row here and sleeps, and the next write
// transaction on its name (usually the release that hands the lock on)
// inserts the row, in posting order, before it looks at the queue. A
// contended grant then costs one write transaction, not two. The database
// stays the only queue: a request is a row not written yet, never an order
// of its own. A poster waits for its row only so long (then it writes it
// itself, taking up every request posted before its own first), and one
// that crashed is queued like any other: its row's pid tells the queue it
// is dead. Entries of dead posters are reclaimed when no entry is free.
//
// Each entry has a control word: its state (free, filling, posted, claimed,
// done), a generation bumped on every change (so a stale compare-and-swap
// never succeeds) and a pid (the poster's, or the claiming writer's while
// claimed).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "wake_layout.hpp"

namespace baton::sqlite::detail {

// A waiter row to be written by someone else: what baton_waiters needs.
// Views into the caller's strings (post) or into the wake file (claims).
struct JoinRequest {
  std::string_view name, owner, host, pid_ns, boot_id;
  std::int64_t owner_pid = 0;
  std::int64_t proc_pid = 0;
  std::optional<std::int64_t> proc_start;
  std::int64_t heartbeat_ms = 0;  // the heartbeat deadline is 3 of these after the insert
  std::int64_t ttl_ms = -1;       // the lease a hand-off gives it; -1: forever
};

// Where a posted request stands, as its poster sees it.
enum class JoinState {
  posted,   // nobody has taken it up yet
  claimed,  // a writer is inserting the row; `claimer_gone` if it died
  done,     // the row was committed with `ticket`
};
struct JoinProgress {
  JoinState state = JoinState::posted;
  std::int64_t ticket = 0;    // when done
  bool claimer_gone = false;  // when claimed
};

// The join-request region of one wake file. Thread-safe (all access is
// atomic); not copyable, not movable (part of a WakeBoard).
class JoinRequests {
 public:
  // `mapping` null, or without the region: nothing can be posted.
  explicit JoinRequests(WakeMapping* mapping) noexcept;
  JoinRequests(const JoinRequests&) = delete;
  JoinRequests& operator=(const JoinRequests&) = delete;

  // ---- the poster's side ----

  // Posts `request`. Returns its entry, or nullopt when it cannot be posted
  // (its strings do not fit an entry, every entry is in use, or there is no
  // region): the caller then queues itself.
  std::optional<int> post(const JoinRequest& request) noexcept;
  JoinProgress progress(int entry) const noexcept;
  // Takes a still posted request back (true), so nobody will write its row.
  // False when a writer has claimed it already.
  bool cancel(int entry) noexcept;
  // The poster is done with `entry` (it read the ticket, or wrote its row
  // itself, or gave up): frees it, at once or, while a writer still holds a
  // claim on it, as soon as that writer lets go. Never blocks.
  void release(int entry) noexcept;
  // The entry's wake-up word: read the sequence before looking at the
  // entry, then sleep with it, so a wake in between is not lost.
  std::uint32_t wake_sequence(int entry) const noexcept;
  void sleep(int entry, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept;
  void wake(int entry) noexcept;

  // ---- everyone else ----

  // Wakes every poster still waiting to be queued on `name` (a write freed
  // the lock without taking their requests up: they look for themselves).
  void wake_posters_of(std::string_view name) noexcept;
  // Wakes the poster whose request was queued with `ticket`. Such a poster
  // is not woken when its row is written (most are far back, and each
  // wake-up costs a context switch on the hand-off's path); it learns its
  // ticket when its turn comes.
  void wake_poster_queued_as(std::int64_t ticket) noexcept;
  // How many requests for `name` have no row in a snapshot whose ticket
  // counter stood at `counter`: those not taken up yet, and those whose
  // writer had not committed by then (their ticket is above it), leaving
  // out those whose poster certainly died (judged only for posters of pid
  // namespace `pid_ns`; empty: judge none). Added to the rows counted in
  // that snapshot, nothing is counted twice or missed.
  std::size_t count_without_row(std::string_view name, std::string_view pid_ns, std::int64_t counter) const noexcept;
  // Frees every entry (first open after a reboot; see WakeBoard::reset()).
  void reset() noexcept;

 private:
  friend class JoinClaims;

  bool holds_name(int entry, std::string_view name, std::uint64_t hash) const noexcept;
  // Whether the poster of `entry` certainly died (see host.hpp).
  bool poster_gone(int entry, std::string_view pid_ns) const noexcept;
  std::int64_t ticket_of(int entry) const noexcept;
  void fill(JoinEntry& entry, const JoinRequest& request) noexcept;
  // Frees the entries of posters whose process is gone (they free nothing
  // themselves) when every entry is in use.
  void reclaim(std::string_view pid_ns) noexcept;
  bool entry_abandoned(int entry) const noexcept;

  std::optional<JoinSlots> slots_;  // nullopt: no region
};

// The requests claimed by one write transaction, to be queued in it. Used
// inside the transaction, by the thread running it. Not copyable, not
// movable.
class JoinClaims {
 public:
  // `requests` may be null (no wake file): nothing is ever claimed.
  explicit JoinClaims(JoinRequests* requests) noexcept : requests_(requests) {}
  JoinClaims(const JoinClaims&) = delete;
  JoinClaims& operator=(const JoinClaims&) = delete;
  // Not committed: every claim goes back, posted as before.
  ~JoinClaims() { give_back(); }

  struct Item {
    int entry;
    std::uint64_t control;    // the claim, as stored
    std::uint64_t restore;    // what to put back if not committed
    std::uint64_t seq;        // posting order
    std::int64_t ticket = 0;  // the row's ticket, once inserted (0: none; let go)
  };

  // Claims every request posted for `name`, appended in posting order.
  void claim_posted(std::string_view name) noexcept;
  // Claims the poster's own `entry` whatever its state (the caller holds the
  // write lock and found no row for it, so no other claim can still commit
  // one), in posting order among the items; nothing if claimed already.
  void claim_own(int entry) noexcept;
  bool holds(int entry) const noexcept;
  std::vector<Item>& items() noexcept { return items_; }
  // The request of a claimed item (views into the wake file).
  JoinRequest request(const Item& item) const noexcept;
  // The item's row is being written with `ticket` (inside the transaction).
  void assign(Item& item, std::int64_t ticket) noexcept;
  // The transaction is being retried or rolled back: every claim goes back.
  void give_back() noexcept;
  // Committed: every claimed poster can read its ticket. Returns how many
  // were queued.
  std::size_t commit() noexcept;

 private:
  static bool posted_before(const Item& a, const Item& b) noexcept { return a.seq < b.seq; }
  // Ends a claim: stores `to` (unless the poster took the entry back), and
  // frees the entry if the poster abandoned it.
  void settle(const Item& item, std::uint64_t to) noexcept;
  void let_go(const Item& item) noexcept;

  JoinRequests* requests_;
  std::vector<Item> items_;
};

}  // namespace baton::sqlite::detail
