#include <exception>

#include "baton/error.hpp"
#include "detail.hpp"

namespace baton::detail {

std::uint64_t mark_lost(LockState& state) {
  const auto token = state.token;
  state.held = false;
  state.lost = true;
  state.hold_count = 0;
  state.token = 0;
  ++state.generation;
  return token;
}

void notify_lost(const LockState& state, std::uint64_t token) noexcept {
  if (!state.on_lost) return;
  try {
    state.on_lost(state.name, token);
  } catch (...) {
    // Nothing sensible to do with it on a background thread; the loss itself
    // is still reported by holds(), lost() and the next renew()/release().
  }
}

Renewer::~Renewer() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  shared_->cv.notify_all();
  // The last owner of the manager can be an on_lost callback running on this
  // very thread (it destroyed the final Lock); joining itself would throw, so
  // it is left to finish on its own (it holds its queue alive).
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void Renewer::start() {
  std::lock_guard lock(shared_->mu);
  start_locked();
}

void Renewer::start_locked() {
  if (!thread_.joinable()) {
    thread_ = std::jthread([shared = shared_](std::stop_token stop) { run(shared, stop); });
  }
}

void Renewer::schedule(const std::shared_ptr<LockState>& state, Clock::time_point due) {
  bool wake = false;
  {
    std::lock_guard lock(shared_->mu);
    start_locked();
    auto& queue = shared_->queue;
    if (state->renewal_due <= due) return;
    if (state->renewal_due != Clock::time_point::max()) {
      // A retry queued by the renewal thread (5 ms after finding the
      // instance busy, or after an unreachable store) can fall after this
      // grant's due time when the ttl is short: move it earlier.
      auto [first, last] = queue.equal_range(state->renewal_due);
      for (auto it = first; it != last; ++it) {
        if (it->second.lock() == state) {
          queue.erase(it);
          break;
        }
      }
    }
    queue.emplace(due, Entry{state});
    state->renewal_due = due;
    wake = due < shared_->wake_at;
  }
  if (wake) shared_->cv.notify_all();
}

void Renewer::run(const std::shared_ptr<Shared>& shared, std::stop_token stop) {
  auto& queue = shared->queue;
  std::unique_lock lock(shared->mu);
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    const auto target = queue.empty() ? now + shared->idle : queue.begin()->first;
    if (queue.empty() || now < target) {
      shared->wake_at = target;
      shared->cv.wait_until(lock, stop, target, [&] { return !queue.empty() && queue.begin()->first < target; });
      shared->wake_at = Clock::time_point::min();
      continue;
    }
    auto state = queue.begin()->second.lock();
    queue.erase(queue.begin());
    if (!state) continue;
    state->renewal_due = Clock::time_point::max();
    // The round trip happens without the mutex, so schedule() never waits.
    lock.unlock();
    auto next = renew_one(state.get(), shared->divisor);
    lock.lock();
    // A grant made during the round trip may have queued an entry already.
    if (next && *next < state->renewal_due) {
      queue.emplace(*next, Entry{state});
      state->renewal_due = *next;
    }
    // The last reference may be ours (the Lock went away meanwhile): its
    // session is then closed here, which may talk to the store, so not under
    // the mutex that schedule() takes.
    lock.unlock();
    state.reset();
    lock.lock();
  }
}

std::optional<Clock::time_point> Renewer::renew_one(LockState* state, unsigned divisor) {
  std::uint64_t generation = 0;
  {
    std::lock_guard guard(state->mu);
    if (!state->held) return std::nullopt;
  }
  // A user thread may be inside release() or renew() on this instance; never
  // wait for it (that could stall every other lock's renewal), come back soon.
  std::unique_lock op(state->op_mu, std::try_to_lock);
  if (!op.owns_lock()) return Clock::now() + std::chrono::milliseconds(5);
  {
    std::lock_guard guard(state->mu);
    if (!state->held) return std::nullopt;
    // With op_mu held no grant or release can happen until we are done; the
    // generation check below is a guard, not a race.
    generation = state->generation;
  }
  const auto still_current = [&] { return state->held && state->generation == generation; };
  const auto ttl = state->ttl;
  const auto sent = Clock::now();
  bool renewed = false;
  bool unreachable = false;
  try {
    renewed = state->session->renew(ttl);
  } catch (const std::exception&) {
    // BackendUnavailable, or anything else the store said: the lease may
    // still be alive, so retry until it has certainly ended.
    unreachable = true;
  }
  std::uint64_t lost_token = 0;
  std::optional<Clock::time_point> next;
  {
    std::lock_guard guard(state->mu);
    if (!still_current()) return std::nullopt;
    const auto now = Clock::now();
    if (renewed) {
      state->lease_end = kit::saturating_add(sent, ttl);
      next = sent + ttl / divisor;
    } else if (unreachable && now < state->lease_end) {
      // Retry often enough to get a few attempts in before the lease ends.
      const auto retry = std::max<Clock::duration>(std::chrono::milliseconds(20), ttl / (4 * divisor));
      next = std::min(now + retry, state->lease_end);
    } else {
      lost_token = mark_lost(*state);
    }
  }
  op.unlock();
  if (!next) notify_lost(*state, lost_token);
  return next;
}

}  // namespace baton::detail
