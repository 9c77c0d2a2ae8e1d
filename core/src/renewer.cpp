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
    auto batch = take_due(*shared, now);
    // The round trip happens without the mutex, so schedule() never waits.
    lock.unlock();
    renew_batch(*shared, batch);
    lock.lock();
    for (auto& p : batch) {
      // A grant made during the round trip may have queued an entry already.
      if (p.next && *p.next < p.state->renewal_due) {
        queue.emplace(*p.next, Entry{p.state});
        p.state->renewal_due = *p.next;
      }
    }
    // The last reference may be ours (the Lock went away meanwhile): its
    // session is then closed here, which may talk to the store, so not under
    // the mutex that schedule() takes.
    lock.unlock();
    batch.clear();
    lock.lock();
  }
}

// An entry due within a quarter of its renewal interval joins the batch:
// renewed that much early, it is renewed at most a third more often, and the
// leases of locks taken at about the same time stay in one batch.
std::vector<Renewer::Pending> Renewer::take_due(Shared& shared, Clock::time_point now) {
  auto& queue = shared.queue;
  std::vector<Pending> batch;
  const auto horizon = now + shared.idle / 4;
  for (auto it = queue.begin(); it != queue.end() && it->first <= horizon;) {
    auto state = it->second.lock();
    if (state && it->first > now && it->first - now > state->ttl / (4 * shared.divisor)) {
      ++it;
      continue;
    }
    it = queue.erase(it);
    if (!state) continue;
    state->renewal_due = Clock::time_point::max();
    batch.push_back(Pending{std::move(state), {}, 0, std::nullopt});
  }
  return batch;
}

void Renewer::renew_batch(Shared& shared, std::vector<Pending>& batch) {
  std::vector<Renewal> renewals;
  std::vector<Pending*> renewing;
  renewals.reserve(batch.size());
  renewing.reserve(batch.size());
  for (auto& p : batch) {
    if (!begin_renewal(p)) continue;
    renewals.push_back(Renewal{p.state->session.get(), p.state->ttl, RenewResult::unreachable});
    renewing.push_back(&p);
  }
  if (renewals.empty()) return;
  const auto sent = Clock::now();
  shared.backend->renew_batch(renewals);
  for (std::size_t i = 0; i < renewing.size(); ++i) finish_renewal(*renewing[i], renewals[i].result, sent, shared.divisor);
}

bool Renewer::begin_renewal(Pending& p) {
  LockState& state = *p.state;
  {
    std::lock_guard guard(state.mu);
    if (!state.held) return false;
  }
  // A user thread may be inside release() or renew() on this instance; never
  // wait for it (that could stall every other lock's renewal), come back soon.
  p.op = std::unique_lock(state.op_mu, std::try_to_lock);
  if (!p.op.owns_lock()) {
    p.next = Clock::now() + std::chrono::milliseconds(5);
    return false;
  }
  std::lock_guard guard(state.mu);
  if (!state.held) {
    p.op.unlock();
    return false;
  }
  // With op_mu held no grant or release can happen until we are done; the
  // generation check in finish_renewal() is a guard, not a race.
  p.generation = state.generation;
  return true;
}

void Renewer::finish_renewal(Pending& p, RenewResult result, Clock::time_point sent, unsigned divisor) {
  LockState& state = *p.state;
  const auto ttl = state.ttl;
  std::uint64_t lost_token = 0;
  {
    std::lock_guard guard(state.mu);
    if (!state.held || state.generation != p.generation) {
      p.op.unlock();
      return;
    }
    const auto now = Clock::now();
    if (result == RenewResult::renewed) {
      state.lease_end = kit::saturating_add(sent, ttl);
      p.next = sent + ttl / divisor;
    } else if (result == RenewResult::unreachable && now < state.lease_end) {
      // BackendUnavailable, or anything else the store said: the lease may
      // still be alive, so retry often enough to get a few attempts in
      // before it has certainly ended.
      const auto retry = std::max<Clock::duration>(std::chrono::milliseconds(20), ttl / (4 * divisor));
      p.next = std::min(now + retry, state.lease_end);
    } else {
      lost_token = mark_lost(state);
    }
  }
  p.op.unlock();
  if (!p.next) notify_lost(state, lost_token);
}

}  // namespace baton::detail
