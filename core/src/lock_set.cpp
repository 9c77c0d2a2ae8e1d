#include "baton/lock_set.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <stdexcept>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "detail.hpp"

namespace baton {

namespace detail {

// A LockSet's members and what its last attempt found. `op_mu` serializes
// acquire and release on the set; `mu` guards `blocked` only, so status
// calls never wait on a round trip.
struct LockSetState {
  std::shared_ptr<ManagerCore> core;
  std::vector<std::string> names;  // canonical order
  std::vector<Lock> members;       // members[i] is the Lock of names[i]
  std::mutex op_mu;
  mutable std::mutex mu;
  std::optional<std::string> blocked;
  std::vector<std::string> lost_at_release;
};

}  // namespace detail

namespace {

// Adds one level to `lock`'s hold if it still holds; no round trip.
bool reenter(detail::LockState& state) {
  std::lock_guard guard(state.mu);
  if (!state.held) return false;
  ++state.hold_count;
  return true;
}

// Undoes a partial attempt: releases members [0, taken) in reverse order.
// Every one is released; a loss found meanwhile is moot (the attempt holds
// nothing either way). Throws the first other failure afterwards.
void roll_back(std::vector<Lock>& members, std::size_t taken) {
  std::exception_ptr failure;
  for (std::size_t i = taken; i-- > 0;) {
    try {
      members[i].release();
    } catch (const LockLost&) {
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

LockSet LockManager::lock_set(std::vector<std::string> names, LockOptions options) {
  if (names.empty()) throw InvalidName("a lock set needs at least one name");
  // std::string's order is byte order (char_traits<char> compares as
  // unsigned char): the canonical order of docs/design.md §1.13.
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  auto state = std::make_unique<detail::LockSetState>();
  state->core = core_;
  state->members.reserve(names.size());
  for (const auto& name : names) state->members.push_back(lock(name, options));
  state->names = std::move(names);
  return LockSet(std::move(state));
}

LockSet::LockSet(std::unique_ptr<detail::LockSetState> state) : state_(std::move(state)) {}

LockSet::LockSet(LockSet&&) noexcept = default;

LockSet& LockSet::operator=(LockSet&& other) noexcept {
  if (this != &other) {
    release_all();
    state_ = std::move(other.state_);
  }
  return *this;
}

LockSet::~LockSet() { release_all(); }

void LockSet::release_all() noexcept {
  if (!state_) return;
  std::lock_guard op(state_->op_mu);
  for (auto it = state_->members.rbegin(); it != state_->members.rend(); ++it) it->unlock_all();
}

void LockSet::acquire() { acquire_until(Clock::time_point::max()); }

bool LockSet::acquire_for(std::chrono::milliseconds timeout, std::stop_token stop) {
  const auto now = Clock::now();
  if (timeout <= std::chrono::milliseconds::zero()) return acquire_until(now, std::move(stop));
  return acquire_until(kit::saturating_add(now, timeout), std::move(stop));
}

bool LockSet::try_acquire() { return acquire_until(Clock::time_point::min()); }

bool LockSet::acquire_until(Clock::time_point deadline, std::stop_token stop) {
  auto& s = *state_;
  std::lock_guard op(s.op_mu);
  auto& members = s.members;
  // Re-entry: one more level on every member. When a member turns out lost,
  // the levels just added go with the rest below.
  std::size_t reentered = 0;
  while (reentered < members.size() && reenter(*members[reentered].state_)) ++reentered;
  if (reentered == members.size()) return true;
  // A fresh attempt: whatever survives a loss is let go first (every level).
  for (auto it = members.rbegin(); it != members.rend(); ++it) it->unlock_all();
  for (std::size_t i = 0; i < members.size(); ++i) {
    bool got = false;
    try {
      got = members[i].acquire_until(deadline, stop);
    } catch (...) {
      {
        std::lock_guard guard(s.mu);
        s.blocked = s.names[i];
      }
      try {
        roll_back(members, i);
      } catch (...) {
      }
      throw;
    }
    if (!got) {
      {
        std::lock_guard guard(s.mu);
        s.blocked = s.names[i];
      }
      roll_back(members, i);
      return false;
    }
  }
  {
    std::lock_guard guard(s.mu);
    s.blocked.reset();
  }
  align_renewals();
  return true;
}

void LockSet::align_renewals() {
  auto& s = *state_;
  const auto& first = *s.members.front().state_;
  if (!first.auto_renew || first.ttl == forever) return;
  Clock::time_point due;
  {
    std::lock_guard guard(first.mu);
    // The first member's lease began earliest; lease_end - ttl is when its
    // grant was requested, the base of its own renewal time.
    due = first.lease_end - first.ttl + first.ttl / s.core->renewer.divisor();
  }
  for (auto& member : s.members) s.core->renewer.schedule(member.state_, due);
}

void LockSet::release() {
  auto& s = *state_;
  std::lock_guard op(s.op_mu);
  const bool any = std::any_of(s.members.begin(), s.members.end(),
                               [](const Lock& m) { return m.hold_count() > 0 || m.lost(); });
  if (!any) throw std::logic_error("baton::LockSet::release() called without holding the set");
  std::vector<std::string> lost_names;
  std::exception_ptr failure;
  for (std::size_t i = s.members.size(); i-- > 0;) {
    auto& member = s.members[i];
    if (member.hold_count() == 0 && !member.lost()) continue;
    try {
      member.release();
    } catch (const LockLost&) {
      lost_names.insert(lost_names.begin(), s.names[i]);
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  {
    std::lock_guard guard(s.mu);
    s.lost_at_release = lost_names;
  }
  if (!lost_names.empty()) {
    throw LockLost("the lease of lock \"" + lost_names.front() + "\", a member of a lock set, was lost");
  }
  if (failure) std::rethrow_exception(failure);
}

void LockSet::unlock() noexcept {
  try {
    release();
  } catch (...) {
    // Standard unlock() cannot fail; a loss was already visible through
    // holds(), lost() and the on_lost callback.
  }
}

bool LockSet::holds() const noexcept {
  return std::all_of(state_->members.begin(), state_->members.end(), [](const Lock& m) { return m.holds(); });
}

bool LockSet::lost() const noexcept {
  return std::any_of(state_->members.begin(), state_->members.end(), [](const Lock& m) { return m.lost(); });
}

std::vector<std::string> LockSet::lost_at_release() const {
  std::lock_guard guard(state_->mu);
  return state_->lost_at_release;
}

std::vector<std::string> LockSet::lost_members() const {
  std::vector<std::string> out;
  for (const auto& member : state_->members) {
    if (member.lost()) out.push_back(member.name());
  }
  return out;
}

const std::vector<std::string>& LockSet::names() const noexcept { return state_->names; }

std::map<std::string, std::uint64_t> LockSet::tokens() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& member : state_->members) out.emplace(member.name(), member.token());
  return out;
}

std::vector<LockSetMember> LockSet::status() const {
  const auto blocked = blocked_on();
  std::vector<LockSetMember> out;
  out.reserve(state_->members.size());
  for (const auto& member : state_->members) {
    LockSetMember entry;
    entry.name = member.name();
    entry.acquired = member.holds();
    entry.blocked = blocked == member.name();
    if (entry.acquired) {
      entry.info.name = member.name();
    } else {
      entry.info = state_->core->backend->inspect(member.name());
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::optional<std::string> LockSet::blocked_on() const {
  std::lock_guard guard(state_->mu);
  return state_->blocked;
}

std::size_t LockSet::hold_count() const noexcept {
  if (!holds()) return 0;
  std::size_t count = state_->members.front().hold_count();
  for (const auto& member : state_->members) count = std::min(count, member.hold_count());
  return count;
}

const Lock* LockSet::member(std::string_view name) const noexcept {
  const auto& names = state_->names;
  const auto it = std::lower_bound(names.begin(), names.end(), name);
  if (it == names.end() || *it != name) return nullptr;
  return &state_->members[static_cast<std::size_t>(it - names.begin())];
}

}  // namespace baton
