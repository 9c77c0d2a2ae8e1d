#include "flock_backend.hpp"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include <baton/error.hpp>
#include <baton/kit/deadline.hpp>
#include <baton/kit/defaults.hpp>
#include <baton/kit/errors.hpp>

#include "lock_state.hpp"
#include "process.hpp"
#include "state_file.hpp"

namespace baton_flock {

namespace {

namespace fs = std::filesystem;
using baton::Clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// try_acquire() is "one round trip": it waits this long at most for a file
// lock held by someone else (stopped inside it, say), then reports contention.
constexpr milliseconds try_bound{250};
// A cancelled acquire() waits this long for the file lock to remove its
// queue entry before it hands the removal to a background retry.
constexpr milliseconds leave_bound{30};

struct Settings {
  fs::path dir;
  milliseconds poll;
  milliseconds lock_timeout;
  bool sync_grants;
};

std::int64_t saturating_ns(std::int64_t from, nanoseconds d) {
  const auto room = std::numeric_limits<std::int64_t>::max() - from;
  return d.count() >= room ? never : from + d.count();
}

// A steady-clock deadline as a CLOCK_BOOTTIME instant (`never` for max()).
std::int64_t to_boottime(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return never;
  const auto left = std::chrono::duration_cast<nanoseconds>(deadline - Clock::now());
  return saturating_ns(boottime_ns(), std::max(left, nanoseconds::zero()));
}

std::int64_t lease_end(milliseconds ttl) {
  if (ttl == baton::forever) return never;
  return saturating_ns(boottime_ns(), std::chrono::duration_cast<nanoseconds>(ttl));
}

// Loads, prunes, runs `fn` and writes the state back only if it changed: the
// whole critical section is one read, a few /proc reads and at most one write
// (synced when `sync_grants` and `fn` granted a token).
template <class Fn>
auto run_locked(LockedFile& file, std::string_view name, Fn&& fn, bool sync_grants = false) {
  LockState state = file.load(name);
  const std::string before = serialize(state);
  const std::uint64_t last_token = state.last_token;
  prune(state, boottime_ns());
  auto result = fn(state);
  if (serialize(state) != before) file.store(state, sync_grants && state.last_token != last_token);
  return result;
}

// The file lock of `path` within lock_timeout, or BackendUnavailable. nullopt
// only when `create` is false and the file does not exist (files are never
// deleted, so that is "never used").
std::optional<LockedFile> open_bounded(const Settings& s, const fs::path& path, bool create) {
  if (!create && !LockedFile::exists(path)) return std::nullopt;
  auto file = LockedFile::open(path, true, baton::kit::deadline_in(s.lock_timeout));
  if (!file) {
    baton::kit::raise(baton::kit::Failure::unavailable, "flock " + path.string(),
                      "file lock busy for longer than lock_timeout (a participant stopped inside it?)");
  }
  return file;
}

void sleep_until(Clock::time_point until, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_until(lock, stop, until, [] { return false; });
}

baton::LockInfo info_of(const LockState& s) {
  baton::LockInfo info;
  info.name = s.name;
  info.waiters = s.waiters.size();
  if (const auto& h = s.holder) {
    info.held = true;
    info.token = h->token;
    info.owner = h->owner;
    info.host = h->host;
    info.pid = h->owner_pid;
    info.acquired_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(nanoseconds(h->acquired_at_unix_ns)));
    info.expires_in = h->expires_ns == never
                          ? baton::forever
                          : std::chrono::ceil<milliseconds>(nanoseconds(h->expires_ns - boottime_ns()));
  }
  return info;
}

class FlockLock final : public baton::BackendLock {
 public:
  FlockLock(std::shared_ptr<const Settings> settings, std::string name, baton::Owner owner)
      : settings_(std::move(settings)),
        name_(std::move(name)),
        path_(file_for(settings_->dir, name_)),
        owner_(std::move(owner)) {}

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  std::optional<std::uint64_t> wait_turn(std::uint64_t& ticket, std::int64_t give_up, Clock::time_point deadline,
                                         milliseconds ttl, std::stop_token stop);
  std::optional<std::uint64_t> grant(LockState& s, milliseconds ttl);
  std::optional<std::uint64_t> grant_if_head(LockState& s, std::uint64_t ticket, milliseconds ttl);
  void join(LockState& s, std::uint64_t& ticket, std::int64_t give_up);
  std::optional<std::uint64_t> join_and_try_grant(LockedFile& file, std::uint64_t& ticket, std::int64_t give_up,
                                                  milliseconds ttl);
  void leave(std::uint64_t ticket) noexcept;
  bool mine(const LockState& s) const {
    return s.holder && s.holder->owner == owner_.id && s.holder->token == token_;
  }

  std::shared_ptr<const Settings> settings_;
  std::string name_;
  fs::path path_;
  baton::Owner owner_;
  std::uint64_t token_ = 0;  // of the current grant; 0 when none
};

std::optional<std::uint64_t> FlockLock::grant(LockState& s, milliseconds ttl) {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  s.holder = Holder{owner_.id, owner_.host, owner_.pid, self_process(), ++s.last_token,
                    std::chrono::duration_cast<nanoseconds>(wall).count(), lease_end(ttl)};
  token_ = s.last_token;
  return token_;
}

// Grants when the lock is free and `ticket` (ours) heads the queue.
std::optional<std::uint64_t> FlockLock::grant_if_head(LockState& s, std::uint64_t ticket, milliseconds ttl) {
  if (s.holder || s.waiters.empty() || s.waiters.front().ticket != ticket) return std::nullopt;
  s.waiters.erase(s.waiters.begin());
  return grant(s, ttl);
}

// Queues us at the tail, unless our entry (`ticket`) is still there. It is
// missing only if others dropped it as abandoned while we were stopped.
void FlockLock::join(LockState& s, std::uint64_t& ticket, std::int64_t give_up) {
  for (const auto& w : s.waiters) {
    if (w.ticket == ticket && w.owner == owner_.id) return;
  }
  ticket = s.next_ticket++;
  s.waiters.push_back(Waiter{ticket, owner_.id, self_process(), give_up});
}

// One look, in one critical section: (re)join the queue, and take the lock
// if it is free and we head the queue.
std::optional<std::uint64_t> FlockLock::join_and_try_grant(LockedFile& file, std::uint64_t& ticket,
                                                           std::int64_t give_up, milliseconds ttl) {
  return run_locked(
      file, name_,
      [&](LockState& s) {
        join(s, ticket, give_up);
        return grant_if_head(s, ticket, ttl);
      },
      settings_->sync_grants);
}

std::optional<std::uint64_t> FlockLock::acquire(Clock::time_point deadline, milliseconds ttl,
                                                std::stop_token stop) {
  const std::int64_t give_up = to_boottime(deadline);
  std::uint64_t ticket = 0;
  {
    auto file = LockedFile::open(path_, true, deadline, stop);
    if (!file) return std::nullopt;  // never queued: nothing to undo
    if (auto granted = join_and_try_grant(*file, ticket, give_up, ttl)) return granted;
  }
  try {
    return wait_turn(ticket, give_up, deadline, ttl, stop);
  } catch (...) {
    leave(ticket);
    throw;
  }
}

// Polls our place every poll interval, each look one short critical section;
// the file lock is never held while sleeping. Leaves the queue on giving up.
std::optional<std::uint64_t> FlockLock::wait_turn(std::uint64_t& ticket, std::int64_t give_up,
                                                  Clock::time_point deadline, milliseconds ttl,
                                                  std::stop_token stop) {
  for (;;) {
    sleep_until(baton::kit::step_deadline(deadline, settings_->poll), stop);
    if (stop.stop_requested() || Clock::now() >= deadline) {
      leave(ticket);
      return std::nullopt;
    }
    // A busy file lock just costs this look: the next one tries again.
    auto file = LockedFile::open(path_, true, baton::kit::step_deadline(deadline, settings_->poll), stop);
    if (!file) continue;
    if (auto granted = join_and_try_grant(*file, ticket, give_up, ttl)) return granted;
  }
}

// Removes our queue entry. Bounded, so a stop request ends acquire()
// promptly; if the file lock stays busy, a detached thread retries for up
// to lock_timeout (an entry with a deadline is also dropped by others once
// that deadline has passed, see abandoned_grace_ns).
void FlockLock::leave(std::uint64_t ticket) noexcept {
  auto remove = [](const fs::path& path, const std::string& name, const std::string& owner, std::uint64_t ticket,
                   milliseconds bound) {
    auto file = LockedFile::open(path, true, baton::kit::deadline_in(bound));
    if (!file) return false;
    run_locked(*file, name, [&](LockState& s) {
      return std::erase_if(s.waiters, [&](const Waiter& w) { return w.ticket == ticket && w.owner == owner; });
    });
    return true;
  };
  try {
    if (remove(path_, name_, owner_.id, ticket, leave_bound)) return;
    std::thread([remove, path = path_, name = name_, owner = owner_.id, ticket, bound = settings_->lock_timeout] {
      try {
        remove(path, name, owner, ticket, bound);
      } catch (...) {
      }
    }).detach();
  } catch (...) {
    // The entry stays until its deadline passes or this process exits.
  }
}

std::optional<std::uint64_t> FlockLock::try_acquire(milliseconds ttl) {
  auto file = LockedFile::open(path_, true, baton::kit::deadline_in(try_bound));
  if (!file) return std::nullopt;  // someone is inside the critical section: contention
  return run_locked(
      *file, name_,
      [&](LockState& s) -> std::optional<std::uint64_t> {
        if (s.holder || !s.waiters.empty()) return std::nullopt;
        return grant(s, ttl);
      },
      settings_->sync_grants);
}

bool FlockLock::renew(milliseconds ttl) {
  auto file = open_bounded(*settings_, path_, true);
  return run_locked(*file, name_, [&](LockState& s) {
    if (!mine(s)) return false;
    s.holder->expires_ns = lease_end(ttl);
    return true;
  });
}

bool FlockLock::release() {
  auto file = open_bounded(*settings_, path_, true);
  const bool had = run_locked(*file, name_, [&](LockState& s) {
    if (!mine(s)) return false;
    s.holder.reset();
    return true;
  });
  token_ = 0;
  return had;
}

class FlockBackend final : public baton::Backend {
 public:
  explicit FlockBackend(std::shared_ptr<const Settings> settings) : settings_(std::move(settings)) {}

  std::string_view kind() const noexcept override { return "flock"; }

  std::unique_ptr<baton::BackendLock> open(std::string_view name, const baton::Owner& owner) override {
    return std::make_unique<FlockLock>(settings_, std::string(name), owner);
  }

  baton::LockInfo inspect(std::string_view name) override {
    auto file = open_bounded(*settings_, file_for(settings_->dir, name), false);
    if (!file) {
      baton::LockInfo free;
      free.name = std::string(name);
      return free;
    }
    return run_locked(*file, name, [](LockState& s) { return info_of(s); });
  }

  std::vector<baton::LockInfo> list() override;

  bool clear(std::string_view name) override {
    auto file = open_bounded(*settings_, file_for(settings_->dir, name), false);
    if (!file) return false;
    return run_locked(*file, name, [](LockState& s) {
      const bool had = s.holder.has_value();  // pruned: a live grant
      s.holder.reset();
      return had;
    });
  }

 private:
  std::shared_ptr<const Settings> settings_;
};

std::vector<baton::LockInfo> FlockBackend::list() {
  std::vector<baton::LockInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings_->dir, ec)) {
    if (entry.path().extension() != ".lock") continue;
    auto file = open_bounded(*settings_, entry.path(), false);
    if (!file) continue;
    auto info = run_locked(*file, "", [](LockState& s) { return info_of(s); });
    if (info.held) out.push_back(std::move(info));
  }
  if (ec) baton::kit::raise(baton::kit::Failure::unavailable, "flock " + settings_->dir.string() + ": list", ec.message());
  return out;
}

}  // namespace

std::shared_ptr<baton::Backend> make_backend(const Options& options) {
  auto settings = std::make_shared<Settings>(Settings{
      options.dir, baton::kit::or_default(options.poll_interval, milliseconds(10)),
      baton::kit::or_default(options.lock_timeout, baton::kit::default_command_timeout), options.sync_grants});
  // One level only: a missing parent means a wrong path, not a new store.
  if (::mkdir(settings->dir.c_str(), 0755) != 0 && errno != EEXIST) {
    baton::kit::raise(baton::kit::Failure::unavailable, "flock " + settings->dir.string() + ": mkdir",
                      std::strerror(errno));
  }
  struct stat st {};
  if (::stat(settings->dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    baton::kit::raise(baton::kit::Failure::unavailable, "flock " + settings->dir.string(), "not a directory");
  }
  return std::make_shared<FlockBackend>(std::move(settings));
}

}  // namespace baton_flock
