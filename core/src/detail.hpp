// Internal state shared by Lock, LockManager and the renewal thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "baton/backend.hpp"
#include "baton/kit/deadline.hpp"
#include "baton/options.hpp"

namespace baton::detail {

// One Lock instance's state. `op_mu` serializes calls into `session` (the
// backend's contract: one call at a time); `mu` guards the fields below and
// is only ever held briefly, so holds()/token() never wait on a round trip.
// Lock order: op_mu before mu.
struct LockState {
  std::string name;
  std::chrono::milliseconds ttl{};  // resolved, never zero
  bool auto_renew = true;
  LostCallback on_lost;
  std::unique_ptr<BackendLock> session;

  std::mutex op_mu;
  mutable std::mutex mu;
  std::size_t hold_count = 0;
  std::uint64_t token = 0;
  bool held = false;
  bool lost = false;
  // Conservative local end of the lease: measured from *before* the request
  // that set it was sent, so the store's lease always ends later than this.
  Clock::time_point lease_end{};
  // Bumped on every grant and release, so a renewal round trip can tell
  // whether the grant it renewed is still the current one.
  std::uint64_t generation = 0;

  // Guarded by the manager's Renewer mutex, not `mu`: when this state's one
  // entry in the renewal queue is due (max: it has none). A state has at
  // most one entry, so a loop of short holds neither grows the queue nor
  // wakes the renewal thread on every grant.
  Clock::time_point renewal_due = Clock::time_point::max();
};

// The one background renewal thread of a manager. Started when the first
// renewing Lock is made (or, failing that, on the first schedule()); joined
// when the last owner of the ManagerCore goes away.
class Renewer {
 public:
  // `idle`: how long the thread sleeps when it has nothing to renew (the
  // manager's default ttl / divisor), so that a grant with the default ttl
  // needs no wake-up: the thread comes back in time by itself.
  // `backend`: whose renew_batch() renews the leases that are due together.
  Renewer(std::shared_ptr<Backend> backend, unsigned divisor, Clock::duration idle)
      : shared_(std::make_shared<Shared>(std::move(backend), divisor, idle)) {}
  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;
  ~Renewer();

  // Starts the thread if it is not running yet. Called when a Lock that
  // renews is made, so that the first grant does not pay for a thread start.
  void start();

  // Renews `state`'s grant at `due` at the latest (and then every
  // ttl/divisor) while it is held. An entry already queued for an earlier
  // grant of the same state and due no later is kept: renewing a grant early
  // only extends it. Wakes the thread only when `due` is before the time it
  // would look by itself.
  void schedule(const std::shared_ptr<LockState>& state, Clock::time_point due);

  unsigned divisor() const noexcept { return shared_->divisor; }

 private:
  using Entry = std::weak_ptr<LockState>;
  // Owned jointly with the thread: an on_lost callback may drop the last
  // reference to the manager, destroying this Renewer on its own thread,
  // which must then still find its queue alive until it returns.
  struct Shared {
    Shared(std::shared_ptr<Backend> b, unsigned d, Clock::duration i) : backend(std::move(b)), divisor(d), idle(i) {}
    const std::shared_ptr<Backend> backend;
    const unsigned divisor;
    const Clock::duration idle;
    // When the sleeping thread will look at the queue by itself; min while
    // it is awake (it looks again before sleeping). schedule() wakes it only
    // for an entry due before this.
    Clock::time_point wake_at = Clock::time_point::min();
    std::mutex mu;
    std::condition_variable_any cv;
    std::multimap<Clock::time_point, Entry> queue;
  };
  // One lock of a batch, between taking its turn and its result.
  struct Pending {
    std::shared_ptr<LockState> state;
    std::unique_lock<std::mutex> op;  // the state's op_mu, while renewing
    std::uint64_t generation = 0;
    std::optional<Clock::time_point> next;  // when to renew again (nullopt: drop it)
  };
  static void run(const std::shared_ptr<Shared>& shared, std::stop_token stop);
  // Takes the entries due now, and those due soon enough that renewing them
  // early keeps them in one batch (caller holds shared.mu).
  static std::vector<Pending> take_due(Shared& shared, Clock::time_point now);
  // Renews the grants of `batch` in one renew_batch() call; sets each
  // entry's `next`.
  static void renew_batch(Shared& shared, std::vector<Pending>& batch);
  // Takes the state's turn if it still holds; false when `p.next` is set
  // already (dropped, or busy: retried soon).
  static bool begin_renewal(Pending& p);
  // Applies the store's answer to the grant.
  static void finish_renewal(Pending& p, RenewResult result, Clock::time_point sent, unsigned divisor);
  void start_locked();  // caller holds shared_->mu

  std::shared_ptr<Shared> shared_;
  std::jthread thread_;
};

struct ManagerCore {
  ManagerCore(std::shared_ptr<Backend> b, std::chrono::milliseconds ttl, unsigned divisor)
      : backend(std::move(b)),
        default_ttl(ttl),
        renewer(backend, divisor, std::min<std::chrono::milliseconds>(ttl / divisor, std::chrono::minutes(10))) {}

  std::shared_ptr<Backend> backend;
  std::chrono::milliseconds default_ttl;
  Renewer renewer;
};

// Marks `state` as having lost its grant (caller holds state.mu). Returns the
// token that was lost, for the callback.
std::uint64_t mark_lost(LockState& state);

// Runs the state's on_lost callback, swallowing what it throws (it runs on
// the renewal thread, where an escaping exception would end the process).
void notify_lost(const LockState& state, std::uint64_t token) noexcept;

// A fresh owner identity for one Lock instance.
Owner make_owner();

}  // namespace baton::detail
