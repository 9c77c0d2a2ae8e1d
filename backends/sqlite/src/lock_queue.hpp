// lock_queue.hpp: the queue of one lock name, as one owner sees it through
// one connection (docs/design.md §3.3).
//
// The queue is the rows of baton_waiters for the name, in ticket order, and
// the grant is its row of baton_holders. Every read-then-write is one
// BEGIN IMMEDIATE transaction. Functions marked "inside a write transaction"
// run in the caller's; the others open their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <stop_token>
#include <string_view>

#include "baton/backend.hpp"
#include "connection.hpp"
#include "join_requests.hpp"
#include "settings.hpp"

namespace baton::sqlite::detail {

// The ticket of someone behind every waiter (a try_acquire, or a waiter
// that does not know its ticket yet).
inline constexpr std::int64_t behind_everyone = std::numeric_limits<std::int64_t>::max();

// What one look at the queue found, from the point of view of one waiter.
struct Standing {
  bool granted = false;
  std::int64_t ticket = 0;                     // the waiter's ticket; the token when granted
  bool holder = false;                         // a live holder exists
  std::optional<std::int64_t> holder_expires;  // its lease end (boot clock ns); nullopt: forever
  bool ahead = false;                          // a live waiter is in front
  std::int64_t ahead_deadline = 0;             // that waiter's heartbeat deadline
  // `PRAGMA data_version` of the snapshot read, when not granted: any later
  // commit by another connection changes it, so a poll cannot miss a
  // release that happened right after the look.
  std::int64_t version = 0;
  // When a queued waiter was granted: the live waiter now first in line, to
  // be woken after the commit so it starts watching for the release. 0: none.
  std::int64_t next = 0;
};

// Whom a hand-off granted the lock to, and who is next in line: both to be
// woken once the transaction committed. 0: nobody.
struct HandOff {
  std::int64_t to = 0;
  std::int64_t next = 0;
  void wake_after_commit(WakeBoard* board) const noexcept;
};

// The first live waiter of `name`, by plain reads (no purge): the one to
// wake after the lock was freed. Inside any transaction.
std::optional<std::int64_t> first_live_waiter(Connection& conn, std::string_view name, std::int64_t now);

// After a committed write that may have freed `name` (release, clear, a
// waiter leaving): wakes its first live waiter, and posters nobody took up.
// When the board says nobody waits, one memory load. A hint: never throws.
void wake_first_waiter(const SharedState& shared, Connection& conn, std::string_view name) noexcept;

// Cheap to make (references only); lives for one call. Not copyable.
class LockQueue {
 public:
  LockQueue(const SharedState& shared, Connection& conn, std::string_view name, const Owner& owner) noexcept
      : shared_(shared), conn_(conn), name_(name), owner_(owner) {}
  LockQueue(const LockQueue&) = delete;
  LockQueue& operator=(const LockQueue&) = delete;

  Connection& connection() const noexcept { return conn_; }
  std::string_view name() const noexcept { return name_; }

  // ---- reads (no write lock; inside any transaction) ----

  // The holder row and the first waiter ahead of `ticket`, judged alive or
  // dead. Dead rows are deleted only with `purge` (inside a write
  // transaction).
  Standing standing(std::int64_t ticket, std::int64_t now, bool purge);
  // standing() in a read transaction of its own.
  Standing read_standing(std::int64_t ticket, Clock::time_point deadline, const std::stop_token* stop);
  // The same, with the snapshot's data_version.
  Standing read_standing_and_version(std::int64_t ticket, Clock::time_point deadline, const std::stop_token* stop);
  std::optional<std::int64_t> first_live_waiter(std::int64_t now) { return detail::first_live_waiter(conn_, name_, now); }

  // ---- inside a write transaction ----

  // Queues every join request posted for the name, oldest first, so a row
  // written now never overtakes a request posted before it. With `own` (the
  // caller's own request), returns the caller's ticket: that of the row
  // queued for it now, or by an earlier writer; 0 without `own`.
  std::int64_t queue_posted_requests(JoinClaims& claims, std::int64_t now, std::optional<int> own = std::nullopt);
  // For the poster of `entry` that finds it no longer posted: the ticket of
  // the row a writer queued for it (or of the grant a hand-off made of
  // it), or, when there is none (a writer claimed it and rolled back), 0
  // after claiming the entry itself.
  std::int64_t own_ticket_or_claim(JoinClaims& claims, int entry, std::int64_t now);
  // A waiter row for `request` with `ticket`, alive for three of its
  // heartbeats from `now`.
  void insert_waiter_row(const JoinRequest& request, std::int64_t ticket, std::int64_t now);
  // The holder row for a grant to this owner with `ticket` as its token.
  void write_holder_row(std::int64_t ticket, std::int64_t now, std::chrono::milliseconds ttl);
  // In the transaction that freed the lock: grants it to the first live
  // waiter, whose row becomes the holder row. The waiter then learns of the
  // grant without a write of its own.
  HandOff hand_to_first_waiter(JoinClaims& claims, std::int64_t now);

  // ---- whole write transactions ----

  // Purges the dead ahead, joins the queue (ticket 0) or refreshes the
  // place of `ticket`, and takes the grant if it is ours. With `own`, the
  // caller's posted join request is queued first (or found queued), and
  // `ticket` must be 0. Interrupted by `deadline` or `stop` only before it
  // commits.
  Standing join_or_take(std::int64_t ticket, std::chrono::milliseconds ttl,
                        Clock::time_point deadline = Clock::time_point::max(), const std::stop_token* stop = nullptr,
                        std::optional<int> own = std::nullopt);
  // Removes the waiter row of `ticket`, passing on a grant made to it.
  void leave(std::int64_t ticket);
  // Takes join request `entry` back: the ticket of the row a writer queued
  // for it meanwhile (0: none, and none will be). Frees the entry.
  std::int64_t withdraw_request(int entry);

  // ---- after a commit ----

  void wake_first_waiter() noexcept { detail::wake_first_waiter(shared_, conn_, name_); }

  // This owner's waiter row, as a join request or for itself.
  JoinRequest join_request(std::chrono::milliseconds ttl) const;
  // Prepares what a release runs, so it does not parse SQL while it holds
  // the write lock; the hand-off's statements only when `waiters` may be
  // queued (a Lock never contended would parse statements it never runs).
  void prepare_release(bool waiters) noexcept;

 private:
  bool read_holder(Standing& s, std::int64_t ticket, std::int64_t now);
  void read_first_ahead(Standing& s, std::int64_t ticket, std::int64_t now, bool purge);
  // Inside join_or_take(): the grant is ours. `mine` (0: no ticket yet)
  // becomes the token, which is returned.
  std::int64_t take_grant(Standing& s, std::int64_t mine, std::int64_t now, std::chrono::milliseconds ttl);
  // This owner's waiter row with a new ticket, which is returned.
  std::int64_t insert_own_waiter_row(std::int64_t now, std::chrono::milliseconds ttl);

  const SharedState& shared_;
  Connection& conn_;
  std::string_view name_;
  const Owner& owner_;
};

}  // namespace baton::sqlite::detail
