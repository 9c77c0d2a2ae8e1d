// Internal state shared by Lock, LockManager and the renewal thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "baton/backend.hpp"
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
  // Bumped on every grant, so a renewal scheduled for an older grant is
  // recognised as stale and dropped.
  std::uint64_t generation = 0;
};

// The one background renewal thread of a manager. Started lazily on the
// first schedule(); joined when the last owner of the ManagerCore goes away.
class Renewer {
 public:
  explicit Renewer(unsigned divisor) : shared_(std::make_shared<Shared>(divisor)) {}
  Renewer(const Renewer&) = delete;
  Renewer& operator=(const Renewer&) = delete;
  ~Renewer();

  // Renews `state`'s grant `generation` at `due` (and then every
  // ttl/divisor) until it is released or lost.
  void schedule(const std::shared_ptr<LockState>& state, std::uint64_t generation,
                Clock::time_point due);

  unsigned divisor() const noexcept { return shared_->divisor; }

 private:
  struct Entry {
    std::weak_ptr<LockState> state;
    std::uint64_t generation;
  };
  // Owned jointly with the thread: an on_lost callback may drop the last
  // reference to the manager, destroying this Renewer on its own thread,
  // which must then still find its queue alive until it returns.
  struct Shared {
    explicit Shared(unsigned d) : divisor(d) {}
    const unsigned divisor;
    std::mutex mu;
    std::condition_variable_any cv;
    std::multimap<Clock::time_point, Entry> queue;
  };
  static void run(const std::shared_ptr<Shared>& shared, std::stop_token stop);
  // Renews one entry; returns when it should run next (nullopt: drop it).
  static std::optional<Clock::time_point> renew_one(const Entry& entry, unsigned divisor);

  std::shared_ptr<Shared> shared_;
  std::jthread thread_;
};

struct ManagerCore {
  ManagerCore(std::shared_ptr<Backend> b, std::chrono::milliseconds ttl, unsigned divisor)
      : backend(std::move(b)), default_ttl(ttl), renewer(divisor) {}

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

// `now + d` without overflow (d may be baton::forever).
inline Clock::time_point saturating_add(Clock::time_point now, std::chrono::milliseconds d) {
  const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now);
  return d >= room ? Clock::time_point::max() : now + d;
}

}  // namespace baton::detail
