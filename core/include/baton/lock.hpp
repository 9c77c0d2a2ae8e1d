// baton/lock.hpp: one named, cross-process lock instance.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <type_traits>

#include "baton/options.hpp"

namespace baton {

namespace detail {
struct LockState;
struct ManagerCore;
}  // namespace detail

// A Lock is one owner of a named lock: made by LockManager::lock(), it
// contends with every other Lock of the same name, in this process or any
// other, on this host or any other that shares the backend.
//
// Semantics (the contract every backend passes, docs/design.md §1):
//  - Mutual exclusion across instances, threads, processes and hosts.
//  - Re-entrant per instance: acquiring a Lock that already holds returns at
//    once and increments hold_count(); the grant is freed when the count
//    returns to zero. Two instances of one name contend like strangers, even
//    in one thread.
//  - FIFO: waiters are granted in the order their acquire reached the store.
//  - Leased: each grant expires after its ttl unless renewed (by default the
//    manager renews in the background at about ttl/3).
//  - Fenced: each grant (not each re-entry) carries a token strictly greater
//    than every earlier token of the name.
//
// Meets the standard Lockable and TimedLockable requirements, so
// std::unique_lock<baton::Lock> and std::scoped_lock work with it.
//
// Thread-safety: all methods may be called from any thread. The hold belongs
// to the instance, not to a thread: a thread that acquires may hand the
// instance to another thread that releases. A blocking acquire on an
// instance that does not hold serializes other acquires of the same instance
// behind it. Move-only; a moved-from Lock may only be destroyed or assigned.
// Destroying a Lock that holds releases it (errors are swallowed).
class Lock {
 public:
  Lock(Lock&&) noexcept;
  Lock& operator=(Lock&&) noexcept;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  ~Lock();

  // Blocks until this instance holds the lock (no timeout). If it already
  // holds, increments the hold count and returns at once. Throws
  // BackendUnavailable if the store cannot be reached.
  void acquire();

  // Like acquire(), but gives up when `deadline` passes or `stop` is
  // requested, returning false and leaving no trace in the queue. A deadline
  // that is now or in the past makes one attempt, exactly like
  // try_acquire(). Clock::time_point::max() waits forever.
  bool acquire_until(Clock::time_point deadline, std::stop_token stop = {});

  // acquire_until(now + timeout). A zero or negative timeout is one attempt,
  // like try_acquire().
  bool acquire_for(std::chrono::milliseconds timeout, std::stop_token stop = {});

  // One attempt that never waits and never jumps the queue: succeeds only if
  // the lock is free and nobody is waiting for it (or this instance already
  // holds it). Returns false on contention.
  bool try_acquire();

  // Extends the lease of the current grant to `ttl` from now (zero: this
  // lock's ttl). Blocks for one round trip. Throws std::logic_error if the
  // instance neither holds nor has a pending loss.
  //
  // Losses: when the lease is found gone (here, or earlier by the background
  // renewal), the instance stops holding at once (holds() false,
  // hold_count() 0, on_lost called once) and the loss stays *pending*:
  // renew() throws LockLost every time while it is pending; release()
  // throws LockLost once and clears it; a new acquire clears it too.
  void renew(std::chrono::milliseconds ttl = std::chrono::milliseconds{0});

  // Decrements the hold count; at zero frees the grant (one round trip).
  // Throws LockLost if a loss is pending (see renew(); the store is left
  // untouched, so a newer holder keeps its grant) and clears it, or if the
  // store reports the grant already gone at this release.
  // std::logic_error if the instance neither holds nor has a loss pending.
  void release();

  // True while this instance holds a live grant (as far as it knows: it
  // turns false as soon as a renewal finds the lease gone). Never blocks.
  bool holds() const noexcept;

  // True while a loss is pending (see renew()): detected, and not yet
  // cleared by release() or by a new acquire.
  bool lost() const noexcept;

  // Fencing token of the current grant; 0 when not holding.
  std::uint64_t token() const noexcept;

  // Nesting depth of the current hold; 0 when not holding.
  std::size_t hold_count() const noexcept;

  // The lease of each grant (the resolved ttl: never zero).
  std::chrono::milliseconds ttl() const noexcept;

  const std::string& name() const noexcept;

  // Standard Lockable / TimedLockable names. unlock() never throws: a loss it
  // would report is already visible through holds() and the on_lost callback.
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
  friend class LockSet;
  Lock(std::shared_ptr<detail::ManagerCore> core, std::shared_ptr<detail::LockState> state);
  // Releases every level of a hold, swallowing errors (destructor, move).
  void unlock_all() noexcept;

  std::shared_ptr<detail::ManagerCore> core_;
  std::shared_ptr<detail::LockState> state_;
};

}  // namespace baton
