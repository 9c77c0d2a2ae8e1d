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

void Renewer::schedule(const std::shared_ptr<LockState>& state, std::uint64_t generation,
                       Clock::time_point due) {
  {
    std::lock_guard lock(shared_->mu);
    shared_->queue.emplace(due, Entry{state, generation});
    if (!thread_.joinable()) {
      thread_ = std::jthread([shared = shared_](std::stop_token stop) { run(shared, stop); });
    }
  }
  shared_->cv.notify_all();
}

void Renewer::run(const std::shared_ptr<Shared>& shared, std::stop_token stop) {
  auto& queue = shared->queue;
  std::unique_lock lock(shared->mu);
  while (!stop.stop_requested()) {
    if (queue.empty()) {
      shared->cv.wait(lock, stop, [&] { return !queue.empty(); });
      continue;
    }
    const auto due = queue.begin()->first;
    if (Clock::now() < due) {
      shared->cv.wait_until(lock, stop, due, [&] { return !queue.empty() && queue.begin()->first < due; });
      continue;
    }
    Entry entry = std::move(queue.begin()->second);
    queue.erase(queue.begin());
    // The round trip happens without the mutex, so schedule() never waits.
    lock.unlock();
    auto next = renew_one(entry, shared->divisor);
    lock.lock();
    if (next) queue.emplace(*next, std::move(entry));
  }
}

std::optional<Clock::time_point> Renewer::renew_one(const Entry& entry, unsigned divisor) {
  auto state = entry.state.lock();
  if (!state) return std::nullopt;
  const auto still_current = [&] { return state->held && state->generation == entry.generation; };
  {
    std::lock_guard guard(state->mu);
    if (!still_current()) return std::nullopt;
  }
  // A user thread may be inside release() or renew() on this instance; never
  // wait for it (that could stall every other lock's renewal), come back soon.
  std::unique_lock op(state->op_mu, std::try_to_lock);
  if (!op.owns_lock()) return Clock::now() + std::chrono::milliseconds(5);
  {
    std::lock_guard guard(state->mu);
    if (!still_current()) return std::nullopt;
  }
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
      state->lease_end = saturating_add(sent, ttl);
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
