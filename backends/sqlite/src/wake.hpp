// wake.hpp: wake-ups between the processes of one host that share one
// SQLite database, so a hand-off costs a futex wake, not a poll interval.
//
// The database cannot tell a waiter that something changed; polling `PRAGMA
// data_version` can, but only as fast as it polls, and 500 waiters polling
// every few milliseconds eat the CPU the holder needs. So next to the
// database file lives a small shared-memory file (`<db>-wake`, like SQLite's
// own `-shm`) with these regions:
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
//   join requests (a third region): a waiter that finds others already
//                 waiting does not take the write lock to queue itself. It
//                 posts its waiter row here and sleeps; the next write
//                 transaction on its name (usually the release that hands
//                 the lock on) inserts the row for it, in posting order,
//                 before it looks at the queue. A contended grant then costs
//                 one write transaction, not two (the hand-off plus the
//                 released holder's re-queue), and the write lock, which
//                 SQLite does not queue, is fought over half as often. The
//                 database stays the only queue: a request is a row not
//                 written yet, never an order of its own. A poster waits
//                 for its row only so long (then it writes it itself,
//                 taking up every request posted before its own first),
//                 and one that crashed is queued like any other: its row's
//                 pid tells the queue it is dead. Entries of dead posters
//                 are reclaimed when no entry is free.
//   grant words   (by ticket) the last ticket a hand-off granted: the new
//                 holder learns of its grant without a read. A word that
//                 names a ticket is certain (it is written after the
//                 commit, and tickets are never reused); one that does not
//                 says nothing.
//
// Collisions in the slot and ticket tables only cost a spurious look. Apart
// from a posted request (a waiter's place until its row is written) and a
// grant word's yes, everything here is a hint: the database stays the only
// truth, every sleep is bounded, and a
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
#include <optional>
#include <vector>
#include <string_view>

namespace baton::sqlite::detail {

// A waiter row to be written by someone else: what baton_waiters needs.
// Views into the caller's strings (post) or into the board (Claim).
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
  // Wakes whoever sleeps on `ticket`, and the poster of a join request
  // queued with that ticket. Never blocks, never throws.
  void wake(std::int64_t ticket) noexcept;

  // After a committed hand-off to `ticket`: records that the grant is
  // made, then wakes it, so the new holder need not read the database to
  // learn it. Never blocks, never throws.
  void hand_over(std::int64_t ticket) noexcept;
  // Whether a hand-off to `ticket` was committed. Tickets are never reused
  // (the counter only grows), so true is certain; false says nothing (the
  // word is shared by tickets 4096 apart): read the database.
  bool granted(std::int64_t ticket) const noexcept;

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

  // ---- join requests (the poster's side) ----
  //
  // Posts `request`. Returns its entry, or nullopt when it cannot be posted
  // (the strings do not fit an entry, every entry is in use, or the file
  // has no request region): the caller then queues itself. Any thread.
  std::optional<int> post(const JoinRequest& request) noexcept;
  struct Seen {
    JoinState state;
    std::int64_t ticket = 0;    // when done
    bool claimer_gone = false;  // when claimed
  };
  Seen join_state(int entry) const noexcept;
  // Takes a still posted request back (true), so nobody will write its row.
  // False when a writer has claimed it already.
  bool cancel(int entry) noexcept;
  // The poster is done with `entry` (it read the ticket, or wrote its row
  // itself, or gave up): frees it, at once or, while a writer still holds a
  // claim on it, as soon as that writer lets go. Never blocks.
  void abandon(int entry) noexcept;
  // The entry's wake-up word, and a sleep on it (as sequence()/sleep()).
  std::uint32_t join_sequence(int entry) const noexcept;
  void join_sleep(int entry, std::uint32_t seen, std::chrono::nanoseconds timeout) const noexcept;
  void join_wake(int entry) noexcept;
  // Wakes every poster still waiting on `name` (a write freed the lock
  // without taking their requests up: they should look for themselves).
  void wake_joiners(std::string_view name) noexcept;
  // How many requests for `name` have no row in a snapshot whose ticket
  // counter stood at `counter`: those not taken up yet, and those whose
  // writer had not committed by then (their ticket is above it), leaving out
  // those whose poster certainly died (judged only for posters of the pid
  // namespace `pid_ns`; empty: judge none). Added to the rows counted in
  // that snapshot, nothing is counted twice or missed.
  std::size_t joiners(std::string_view name, std::string_view pid_ns, std::int64_t counter) const noexcept;

  // ---- join requests (the writer's side) ----
  //
  // Requests claimed by one write transaction. Used inside it, by the
  // thread running it. Not copyable, not movable.
  class Claims {
   public:
    explicit Claims(WakeBoard* board) noexcept : board_(board) {}
    Claims(const Claims&) = delete;
    Claims& operator=(const Claims&) = delete;
    // Not committed: every claim goes back, posted as before.
    ~Claims() { restart(); }

    // Claims every request posted for `name`, oldest first (appended to
    // what is claimed already). Inside the write transaction.
    void claim(std::string_view name) noexcept;
    // Claims the poster's own `entry` whatever its state (the caller holds
    // the write lock and found no row for it, so no other claim can still
    // commit one), in posting order among the items; nothing if claimed
    // already.
    void claim_own(int entry) noexcept;
    struct Item {
      int entry;
      std::uint64_t control;   // the claim, as stored
      std::uint64_t restore;   // what to put back if not committed
      std::uint64_t seq;       // posting order
      std::int64_t ticket = 0; // the row's ticket, once inserted (0: none; let go)
    };
    static bool posted_before(const Item& a, const Item& b) noexcept;
    std::vector<Item>& items() noexcept { return items_; }
    // The request of a claimed item (views into the board).
    JoinRequest request(const Item& item) const noexcept;
    // The item's row is being written with `ticket` (inside the transaction).
    void assign(Item& item, std::int64_t ticket) noexcept;
    // The transaction is being retried: every claim goes back.
    void restart() noexcept;
    // Committed: every claimed poster can read its ticket (and is told
    // when wake() is called for it). Returns how many were queued.
    std::size_t commit() noexcept;

   private:
    WakeBoard* board_;
    std::vector<Item> items_;
  };

 private:
  WakeBoard(void* base, std::size_t size) noexcept : base_(static_cast<std::uint32_t*>(base)), size_(size) {}
  std::uint32_t* slot(std::string_view name) const noexcept;
  std::uint32_t* word(std::int64_t ticket) const noexcept;
  struct Entry;
  Entry* entry(int index) const noexcept;
  std::uint64_t* control(int index) const noexcept;
  std::uint64_t* hash(int index) const noexcept;
  std::uint32_t* join_word(int index) const noexcept;
  std::uint64_t* join_counter() const noexcept;
  std::uint64_t* grant_word(std::int64_t ticket) const noexcept;
  std::int64_t ticket_of(int index) const noexcept;
  bool entry_is(int index, std::string_view name, std::uint64_t name_hash) const noexcept;
  // Whether the poster of `index` certainly died (see host.hpp).
  bool poster_gone(int index, std::string_view pid_ns) const noexcept;
  // Ends a claim: stores `to` (unless the poster took the entry back), and
  // frees the entry if the poster abandoned it.
  void settle(const Claims::Item& item, std::uint64_t to) noexcept;
  void let_go(const Claims::Item& item) noexcept;
  // The posters whose process is gone free nothing themselves: reclaims
  // their entries when every entry is in use.
  void reclaim(std::string_view pid_ns) noexcept;

  std::uint32_t* base_;
  std::size_t size_;
  bool joins_ = false;  // the file has the request region
};

}  // namespace baton::sqlite::detail
