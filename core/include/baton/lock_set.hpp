// baton/lock_set.hpp: several named locks taken all together or not at all.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <type_traits>
#include <vector>

#include "baton/lock.hpp"
#include "baton/lock_info.hpp"
#include "baton/options.hpp"

namespace baton {

namespace detail {
struct LockSetState;
struct ManagerCore;
}  // namespace detail

// What a LockSet knows about one of its names after an attempt (see
// LockSet::status()). Aggregate; copyable.
struct LockSetMember {
  std::string name;
  // This set holds the name now.
  bool acquired = false;
  // The last attempt of the set stopped at this name: it was busy (try,
  // timeout, cancellation) or the store failed there. At most one member.
  bool blocked = false;
  // A snapshot of the name from LockManager::inspect() when not `acquired`
  // (holder's owner, host, pid, token, expires_in, waiters); only `name` is
  // set when `acquired`.
  LockInfo info;
};

// A LockSet is a group of named locks taken all together or not at all
// (docs/design.md §1.13): made by LockManager::lock_set(), it owns one
// ordinary Lock per distinct name, all with the same LockOptions.
//
// Semantics:
//  - All or nothing: an attempt that times out, is cancelled, finds a name
//    busy or fails releases every member it took and leaves no waiter in
//    any queue before it returns (or throws).
//  - No deadlock between sets: members are taken one at a time in the
//    canonical order (names sorted by bytes, duplicates removed), so two
//    sets over overlapping names, in any order and in any processes, never
//    wait for each other in a cycle.
//  - Re-entrant per instance: acquiring a set that holds increments every
//    member's hold count; release() decrements them all.
//  - Leased and renewed like its members; every member's renewal is due at
//    the same time, so the manager's renewal thread renews them back to back.
//  - Losing any member is losing the set: holds() turns false, lost() true,
//    and LockOptions::on_lost is called with the lost member's name and
//    token.
//
// Meets the standard Lockable and TimedLockable requirements, so
// std::unique_lock<baton::LockSet> and std::scoped_lock work with it.
//
// Thread-safety: all methods may be called from any thread; acquire and
// release calls on one set are serialized (a blocking acquire makes the
// others wait behind it). Move-only; a moved-from LockSet may only be
// destroyed or assigned. Destroying a LockSet releases every member it
// holds (errors are swallowed).
class LockSet {
 public:
  LockSet(LockSet&&) noexcept;
  LockSet& operator=(LockSet&&) noexcept;
  LockSet(const LockSet&) = delete;
  LockSet& operator=(const LockSet&) = delete;
  ~LockSet();

  // Blocks until this set holds every member (no timeout). If it already
  // holds, increments every member's hold count and returns at once. Throws
  // BackendUnavailable or BackendError (after releasing what it took).
  void acquire();

  // Like acquire(), but gives up when `deadline` passes or `stop` is
  // requested, returning false with nothing held and no queue entry left. A
  // deadline that is now or in the past makes one attempt per member,
  // exactly like try_acquire(). Clock::time_point::max() waits forever.
  // After a loss (lost() true) the surviving members are released first
  // and every member is taken afresh.
  bool acquire_until(Clock::time_point deadline, std::stop_token stop = {});

  // acquire_until(now + timeout). A zero or negative timeout is one attempt,
  // like try_acquire().
  bool acquire_for(std::chrono::milliseconds timeout, std::stop_token stop = {});

  // One attempt per member that never waits and never jumps a queue:
  // succeeds only if every member is free with nobody waiting (or the set
  // already holds). Returns false on contention, holding nothing.
  bool try_acquire();

  // Decrements every member's hold count; at zero frees the grants (one
  // round trip per member, in reverse canonical order). Every member is
  // released even when one fails; then throws LockLost naming the first
  // lost member if a loss was pending (clearing it), else the first other
  // failure. std::logic_error if the set neither holds nor has a loss
  // pending.
  void release();

  // True while every member holds a live grant. Never blocks.
  bool holds() const noexcept;

  // True while any member has a loss pending. Never blocks.
  bool lost() const noexcept;

  // Names of the members whose loss is pending, in canonical order.
  std::vector<std::string> lost_members() const;

  // Names of the members the last release() found lost (it then threw
  // LockLost), in canonical order; empty when it found none.
  std::vector<std::string> lost_at_release() const;

  // The distinct names, in canonical order (sorted by bytes).
  const std::vector<std::string>& names() const noexcept;

  // Each member's fencing token by name (std::map's order is the canonical
  // order); 0 for a member that does not hold.
  std::map<std::string, std::uint64_t> tokens() const;

  // One entry per name, in canonical order: whether the set holds it,
  // whether the last attempt stopped there, and for every name it does not
  // hold a fresh inspect() snapshot (who holds it, for how long). Blocks for
  // one round trip per name not held; throws BackendUnavailable.
  std::vector<LockSetMember> status() const;

  // The name the last attempt stopped at; nullopt after a success or
  // before any attempt.
  std::optional<std::string> blocked_on() const;

  // Nesting depth of the current hold; 0 when not holding.
  std::size_t hold_count() const noexcept;

  // The member Lock of `name` (read-only), or nullptr if not a member.
  const Lock* member(std::string_view name) const noexcept;

  // Standard Lockable / TimedLockable names. unlock() never throws.
  void lock() { acquire(); }
  bool try_lock() { return try_acquire(); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& timeout) {
    return acquire_for(std::chrono::ceil<std::chrono::milliseconds>(timeout));
  }
  template <class C, class D>
  bool try_lock_until(const std::chrono::time_point<C, D>& deadline) {
    if constexpr (std::is_same_v<C, Clock>) {
      return acquire_until(std::chrono::time_point_cast<Clock::duration>(deadline));
    } else {
      return acquire_for(std::chrono::ceil<std::chrono::milliseconds>(deadline - C::now()));
    }
  }
  void unlock() noexcept;

 private:
  friend class LockManager;
  explicit LockSet(std::unique_ptr<detail::LockSetState> state);
  // Releases every level of every member, swallowing errors (destructor, move).
  void release_all() noexcept;
  // Makes every member's next renewal due with the first member's, so the
  // renewal thread renews the whole set in one pass.
  void align_renewals();

  std::unique_ptr<detail::LockSetState> state_;
};

}  // namespace baton
