#include "flock_backend.hpp"

#include <errno.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>

#include <baton/error.hpp>
#include <baton/kit/deadline.hpp>
#include <baton/kit/defaults.hpp>
#include <baton/kit/errors.hpp>

#include "name_dir.hpp"
#include "process.hpp"
#include "queue.hpp"
#include "record.hpp"

namespace baton_flock {

namespace {

namespace fs = std::filesystem;
using baton::Clock;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// try_acquire() records this deadline in its entry: should it be stopped
// before it removes the entry, others drop it as abandoned soon after.
constexpr milliseconds try_bound{250};

struct Settings {
  fs::path dir;
  milliseconds poll;
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

bool passed(std::int64_t instant, std::int64_t now_ns) { return instant != never && now_ns >= instant; }

void sleep_until(Clock::time_point until, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_until(lock, stop, until, [] { return false; });
}

baton::LockInfo info_of(std::string name, const Queue& q, std::int64_t now_ns) {
  baton::LockInfo info;
  info.name = std::move(name);
  info.waiters = q.waiters();
  if (const Entry* h = q.holder(now_ns)) {
    const Record& r = h->record;
    info.held = true;
    info.token = h->ticket;
    info.owner = r.owner;
    info.host = r.host;
    info.pid = r.owner_pid;
    info.acquired_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(nanoseconds(r.acquired_unix_ns)));
    info.expires_in = r.lease_end_ns == never
                          ? baton::forever
                          : std::chrono::ceil<milliseconds>(nanoseconds(r.lease_end_ns - now_ns));
  }
  return info;
}

class FlockLock final : public baton::BackendLock {
 public:
  FlockLock(std::shared_ptr<const Settings> settings, std::string name, baton::Owner owner)
      : settings_(std::move(settings)),
        dir_(dir_for(settings_->dir, name), name),
        owner_(std::move(owner)) {}
  ~FlockLock() override { leave(); }

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  void enqueue(std::int64_t give_up);
  bool heads(const Queue& q) const { return !q.live.empty() && q.live.front().ticket == entry_->ticket(); }
  std::optional<std::uint64_t> grant(milliseconds ttl);
  void leave() noexcept;

  std::shared_ptr<const Settings> settings_;
  NameDir dir_;
  baton::Owner owner_;
  std::optional<OwnEntry> entry_;  // our waiting or holding entry
  bool holding_ = false;           // entry_ holds the grant of token entry_->ticket()
};

// Takes the next ticket: 1 + the highest ticket of any entry or tombstone,
// as a new entry file created whole (link() fails if another process took
// that ticket first: then the next one).
//
// Then checks that the ticket is not stale: a process paused between its
// scan and its link may link a ticket below one granted meanwhile. The
// highest ticket ever granted always names a file (a holding entry or a
// tombstone, see NameDir::remove), so a look after the link shows it; a
// stale ticket is given back before it is ever granted. Waiting entries
// above ours prove nothing (they may have arrived just after us) and are
// left alone: they cannot be granted while ours is below them.
void FlockLock::enqueue(std::int64_t give_up) {
  Record record{owner_.id, owner_.host, owner_.pid, self_process(), Phase::waiting, never, give_up, 0};
  for (;;) {
    std::uint64_t ticket = dir_.scan().highest + 1;
    while (dir_.issued(ticket)) ++ticket;  // linked during the scan
    auto created = OwnEntry::create(dir_, ticket, record);
    if (!created) continue;
    entry_ = std::move(created);
    if (!look(dir_, boottime_ns()).granted_above(ticket) && entry_->present()) return;
    leave();
  }
}

// Our entry heads the queue: writes the grant into it, then looks again.
// A grant is written before the look that confirms it, and an entry is
// linked before the look that checks it is not stale (enqueue()), so of a
// grant and a lower entry linked meanwhile, one sees the other: a lower
// entry here makes us write "waiting" back and stay queued.
//
// The write must also land before anyone could have judged the waiting
// entry abandoned (its deadline plus abandoned_grace_ns), and the entry must
// still be ours after it; otherwise the grant is given back and the caller
// queues again. The fencing token is the ticket.
std::optional<std::uint64_t> FlockLock::grant(milliseconds ttl) {
  const Record waiting = entry_->record();
  if (passed(waiting.give_up_ns, boottime_ns())) return std::nullopt;
  Record r = waiting;
  r.phase = Phase::holding;
  r.lease_end_ns = lease_end(ttl);
  r.acquired_unix_ns =
      std::chrono::duration_cast<nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  entry_->write(r, settings_->sync_grants);
  if (settings_->sync_grants) dir_.sync();
  if (!heads(look(dir_, boottime_ns()))) {
    entry_->write(waiting);
    return std::nullopt;
  }
  const bool late = r.give_up_ns != never && passed(r.give_up_ns + abandoned_grace_ns, boottime_ns());
  if (late || !entry_->present()) {
    leave();
    return std::nullopt;
  }
  holding_ = true;
  return entry_->ticket();
}

std::optional<std::uint64_t> FlockLock::acquire(Clock::time_point deadline, milliseconds ttl,
                                                std::stop_token stop) {
  dir_.ensure();
  const std::int64_t give_up = to_boottime(deadline);
  try {
    for (;;) {
      if (!entry_) enqueue(give_up);
      const Queue q = look(dir_, boottime_ns());
      if (!entry_->present()) {
        entry_.reset();  // removed by others while we were stopped: queue again
      } else if (heads(q)) {
        if (auto token = grant(ttl)) return token;
      }
      sleep_until(baton::kit::step_deadline(deadline, settings_->poll), stop);
      if (stop.stop_requested() || Clock::now() >= deadline) {
        leave();
        return std::nullopt;
      }
    }
  } catch (...) {
    leave();
    throw;
  }
}

// Queues and, unless someone holds or waits ahead, is granted at once;
// otherwise leaves again. Never ahead of a waiter, even a stopped one.
std::optional<std::uint64_t> FlockLock::try_acquire(milliseconds ttl) {
  dir_.ensure();
  try {
    enqueue(to_boottime(Clock::now() + try_bound));
    const Queue q = look(dir_, boottime_ns());
    if (entry_->present() && heads(q)) {
      if (auto token = grant(ttl)) return token;
    }
  } catch (...) {
    leave();
    throw;
  }
  leave();
  return std::nullopt;
}

// Refuses a lease that has ended; after writing, gives the renewal up if the
// old lease's reaping grace has passed meanwhile (a reaper may have judged
// it) or the entry is gone. A refused renewal removes the entry, so a lease
// just written cannot outlive the grant.
bool FlockLock::renew(milliseconds ttl) {
  if (!holding_) return false;
  Record r = entry_->record();
  const std::int64_t old_end = r.lease_end_ns;
  if (!lease_running(r, boottime_ns()) || !entry_->present()) {
    leave();
    return false;
  }
  r.lease_end_ns = lease_end(ttl);
  entry_->write(r);
  const bool late = old_end != never && passed(old_end + lease_grace_ns, boottime_ns());
  if (late || !entry_->present()) {
    leave();
    return false;
  }
  return true;
}

bool FlockLock::release() {
  const bool had = holding_ && lease_running(entry_->record(), boottime_ns()) && entry_->present();
  leave();
  return had;
}

// Takes our entry off the queue (tombstone or unlink, see NameDir::remove)
// unless others already removed it.
void FlockLock::leave() noexcept {
  if (!entry_) return;
  try {
    if (entry_->present()) dir_.remove(entry_->ticket(), entry_->record().phase == Phase::holding);
  } catch (...) {
    // Left to others: our entry is reaped once this process is gone, its
    // deadline or lease has passed.
  }
  entry_.reset();
  holding_ = false;
}

class FlockBackend final : public baton::Backend {
 public:
  explicit FlockBackend(std::shared_ptr<const Settings> settings) : settings_(std::move(settings)) {}

  std::string_view kind() const noexcept override { return "flock"; }

  std::unique_ptr<baton::BackendLock> open(std::string_view name, const baton::Owner& owner) override {
    return std::make_unique<FlockLock>(settings_, std::string(name), owner);
  }

  baton::LockInfo inspect(std::string_view name) override {
    const NameDir dir(dir_for(settings_->dir, name), std::string(name));
    if (!dir.exists()) return info_of(std::string(name), Queue{}, 0);
    const std::int64_t now = boottime_ns();
    return info_of(std::string(name), look(dir, now), now);
  }

  std::vector<baton::LockInfo> list() override;

  // Removes the entry holding a running lease; the waiters keep theirs.
  bool clear(std::string_view name) override {
    const NameDir dir(dir_for(settings_->dir, name), std::string(name));
    if (!dir.exists()) return false;
    const Queue q = look(dir, boottime_ns());
    const Entry* holder = q.holder(boottime_ns());
    return holder != nullptr && dir.remove(holder->ticket, true);
  }

 private:
  std::shared_ptr<const Settings> settings_;
};

std::vector<baton::LockInfo> FlockBackend::list() {
  std::vector<baton::LockInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings_->dir, ec)) {
    if (entry.path().extension() != ".d") continue;
    auto name = NameDir::read_name(entry.path());
    if (!name) continue;
    const NameDir dir(entry.path(), std::move(*name));
    const std::int64_t now = boottime_ns();
    auto info = info_of(dir.name(), look(dir, now), now);
    if (info.held) out.push_back(std::move(info));
  }
  if (ec) baton::kit::raise(baton::kit::Failure::unavailable, "flock " + settings_->dir.string() + ": list", ec.message());
  return out;
}

}  // namespace

std::shared_ptr<baton::Backend> make_backend(const Options& options) {
  auto settings = std::make_shared<Settings>(
      Settings{options.dir, baton::kit::or_default(options.poll_interval, milliseconds(10)), options.sync_grants});
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
