#include "baton/lock.hpp"

#include <stdexcept>

#include "baton/error.hpp"
#include "detail.hpp"

namespace baton {

using detail::LockState;

Lock::Lock(std::shared_ptr<detail::ManagerCore> core, std::shared_ptr<LockState> state)
    : core_(std::move(core)), state_(std::move(state)) {}

Lock::Lock(Lock&&) noexcept = default;

Lock& Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    unlock_all();
    core_ = std::move(other.core_);
    state_ = std::move(other.state_);
  }
  return *this;
}

Lock::~Lock() { unlock_all(); }

void Lock::unlock_all() noexcept {
  if (!state_) return;
  try {
    std::size_t count;
    {
      std::lock_guard guard(state_->mu);
      count = state_->hold_count;
    }
    if (count > 0) {
      {
        std::lock_guard guard(state_->mu);
        state_->hold_count = 1;
      }
      release();
    }
  } catch (...) {
    // A destructor must not throw; the lease ends by itself if the store
    // could not be told.
  }
}

void Lock::acquire() {
  // Without a deadline or stop token the only way out is a grant or a throw
  // (§1.4). A backend that answers neither breaks that, and saying so beats
  // returning to a caller who would then act as the holder.
  if (!acquire_until(Clock::time_point::max())) {
    throw BackendError("lock \"" + state_->name + "\": the backend ended an acquire without a deadline "
                       "and without granting it (a backend defect, docs/design.md §1.4)");
  }
}

bool Lock::acquire_for(std::chrono::milliseconds timeout, std::stop_token stop) {
  const auto now = Clock::now();
  if (timeout <= std::chrono::milliseconds::zero()) return acquire_until(now, std::move(stop));
  return acquire_until(kit::saturating_add(now, timeout), std::move(stop));
}

bool Lock::try_acquire() { return acquire_until(Clock::time_point::min()); }

bool Lock::acquire_until(Clock::time_point deadline, std::stop_token stop) {
  LockState& s = *state_;
  const auto reenter = [&] {
    std::lock_guard guard(s.mu);
    if (!s.held) return false;
    ++s.hold_count;
    return true;
  };
  if (reenter()) return true;
  std::unique_lock op(s.op_mu);
  // Another thread may have acquired this instance while we waited for op_mu.
  if (reenter()) return true;
  {
    std::lock_guard guard(s.mu);
    s.lost = false;
  }
  const auto sent = Clock::now();
  std::optional<std::uint64_t> token;
  if (deadline <= sent) {
    token = s.session->try_acquire(s.ttl);
  } else if (stop.stop_requested()) {
    return false;
  } else {
    token = s.session->acquire(deadline, s.ttl, stop);
  }
  if (!token) return false;
  {
    std::lock_guard guard(s.mu);
    s.held = true;
    s.hold_count = 1;
    s.token = *token;
    s.lease_end = kit::saturating_add(sent, s.ttl);
    ++s.generation;
  }
  if (s.auto_renew && s.ttl != forever) {
    core_->renewer.schedule(state_, sent + s.ttl / core_->renewer.divisor());
  }
  return true;
}

void Lock::renew(std::chrono::milliseconds ttl) {
  LockState& s = *state_;
  if (ttl <= std::chrono::milliseconds::zero()) ttl = s.ttl;
  std::unique_lock op(s.op_mu);
  {
    std::lock_guard guard(s.mu);
    if (s.lost) throw LockLost("the lease of lock \"" + s.name + "\" was lost");
    if (!s.held) throw std::logic_error("baton::Lock::renew() called without holding the lock");
  }
  const auto sent = Clock::now();
  const bool renewed = s.session->renew(ttl);
  std::uint64_t lost_token = 0;
  {
    std::lock_guard guard(s.mu);
    if (renewed) {
      s.lease_end = kit::saturating_add(sent, ttl);
      return;
    }
    lost_token = detail::mark_lost(s);
  }
  op.unlock();
  detail::notify_lost(s, lost_token);
  throw LockLost("the lease of lock \"" + s.name + "\" was lost (expired or cleared)");
}

void Lock::release() {
  LockState& s = *state_;
  std::unique_lock op(s.op_mu);
  {
    std::lock_guard guard(s.mu);
    if (s.hold_count == 0) {
      if (s.lost) {
        s.lost = false;
        throw LockLost("the lease of lock \"" + s.name + "\" was lost before release");
      }
      throw std::logic_error("baton::Lock::release() called without holding the lock");
    }
    if (--s.hold_count > 0) return;
    // From here on the instance does not hold, whatever the store says; the
    // generation bump retires the pending renewal.
    s.held = false;
    s.token = 0;
    ++s.generation;
  }
  if (!s.session->release()) {
    throw LockLost("the lease of lock \"" + s.name + "\" was lost before release (expired or cleared)");
  }
}

void Lock::unlock() noexcept {
  try {
    release();
  } catch (...) {
    // Standard unlock() cannot fail; a loss was already visible through
    // holds() and the on_lost callback.
  }
}

bool Lock::holds() const noexcept {
  std::lock_guard guard(state_->mu);
  return state_->held;
}

bool Lock::lost() const noexcept {
  std::lock_guard guard(state_->mu);
  return state_->lost;
}

std::uint64_t Lock::token() const noexcept {
  std::lock_guard guard(state_->mu);
  return state_->token;
}

std::size_t Lock::hold_count() const noexcept {
  std::lock_guard guard(state_->mu);
  return state_->hold_count;
}

std::chrono::milliseconds Lock::ttl() const noexcept { return state_->ttl; }

const std::string& Lock::name() const noexcept { return state_->name; }

}  // namespace baton
