#include "memory_backend.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace baton::selftest {

namespace {

using std::chrono::milliseconds;

struct Grant {
  Owner owner;
  std::uint64_t token = 0;
  std::chrono::system_clock::time_point acquired_at;
  Clock::time_point expires;  // Clock::time_point::max(): never
  bool forever = false;
};

struct Name {
  std::optional<Grant> holder;   // may have expired: see live_holder()
  std::deque<std::uint64_t> queue;  // waiter ids in arrival order
  std::uint64_t last_token = 0;
};

// The store. Invariant: `names` entries are only ever added; a name's
// holder is live while its lease runs; waiters are granted head first.
struct Store {
  std::mutex mu;
  std::condition_variable changed;  // any grant freed or waiter gone
  std::map<std::string, Name, std::less<>> names;
  std::uint64_t next_waiter = 0;
};

Store& store() {
  static Store* s = new Store;  // never destroyed: backends may outlive statics
  return *s;
}

Clock::time_point lease_end(milliseconds ttl) {
  return ttl == forever ? Clock::time_point::max() : Clock::now() + ttl;
}

// The holder of `n`, if its lease still runs; drops an expired one.
std::optional<Grant>& live_holder(Name& n) {
  if (n.holder && n.holder->expires <= Clock::now()) n.holder.reset();
  return n.holder;
}

std::uint64_t grant(Name& n, const Owner& owner, milliseconds ttl) {
  n.holder = Grant{owner, ++n.last_token, std::chrono::system_clock::now(), lease_end(ttl), ttl == forever};
  return n.last_token;
}

class MemoryLock final : public BackendLock {
 public:
  MemoryLock(std::string name, Owner owner, Defect defect)
      : name_(std::move(name)), owner_(std::move(owner)), defect_(defect) {}

  std::optional<std::uint64_t> acquire(Clock::time_point deadline, milliseconds ttl,
                                       std::stop_token stop) override;
  std::optional<std::uint64_t> try_acquire(milliseconds ttl) override;
  bool renew(milliseconds ttl) override;
  bool release() override;

 private:
  bool mine(Name& n) const {
    return live_holder(n) && n.holder->owner.id == owner_.id && n.holder->token == token_;
  }

  std::string name_;
  Owner owner_;
  Defect defect_;
  std::uint64_t token_ = 0;
};

std::optional<std::uint64_t> MemoryLock::acquire(Clock::time_point deadline, milliseconds ttl,
                                                 std::stop_token stop) {
  Store& s = store();
  std::unique_lock lock(s.mu);
  Name& n = s.names[name_];
  const std::uint64_t me = s.next_waiter++;
  n.queue.push_back(me);
  std::stop_callback wake(stop, [&s] {
    std::lock_guard guard(s.mu);
    s.changed.notify_all();
  });
  for (;;) {
    if (n.queue.front() == me && !live_holder(n)) break;
    const bool ignores_limits = defect_ == Defect::acquire_hangs;
    if (!ignores_limits && (stop.stop_requested() || Clock::now() >= deadline)) {
      std::erase(n.queue, me);
      s.changed.notify_all();
      return std::nullopt;
    }
    // Wake at the deadline, or when the holder's lease ends.
    auto until = ignores_limits ? Clock::time_point::max() : deadline;
    if (n.holder && n.holder->expires < until) until = n.holder->expires;
    if (until == Clock::time_point::max()) {
      s.changed.wait(lock);
    } else {
      s.changed.wait_until(lock, until);
    }
    if (defect_ == Defect::try_jumps_queue) {
      // A slow hand-off, as a backend whose waiters poll has: the window in
      // which the defect lets try_acquire() in is then wide enough for the
      // suite to hit it every time, under any scheduler or sanitizer.
      lock.unlock();
      std::this_thread::sleep_for(milliseconds(50));
      lock.lock();
    }
  }
  n.queue.pop_front();
  token_ = grant(n, owner_, ttl);
  s.changed.notify_all();  // the next head re-checks (it waits for this grant to end)
  return token_;
}

std::optional<std::uint64_t> MemoryLock::try_acquire(milliseconds ttl) {
  Store& s = store();
  std::lock_guard lock(s.mu);
  Name& n = s.names[name_];
  const bool queue_blocks = !n.queue.empty() && defect_ != Defect::try_jumps_queue;
  if (live_holder(n) || queue_blocks) return std::nullopt;
  token_ = grant(n, owner_, ttl);
  return token_;
}

bool MemoryLock::renew(milliseconds ttl) {
  Store& s = store();
  std::lock_guard lock(s.mu);
  Name& n = s.names[name_];
  if (!mine(n)) return false;
  n.holder->expires = lease_end(ttl);
  n.holder->forever = ttl == forever;
  return true;
}

bool MemoryLock::release() {
  Store& s = store();
  std::lock_guard lock(s.mu);
  Name& n = s.names[name_];
  if (!mine(n)) return false;
  n.holder.reset();
  s.changed.notify_all();
  return true;
}

LockInfo info_of(const std::string& name, Name& n, Defect defect) {
  LockInfo info;
  info.name = name;
  info.waiters = defect == Defect::waiters_always_zero ? 0 : n.queue.size();
  if (const auto& h = live_holder(n)) {
    info.held = true;
    info.token = h->token;
    info.owner = h->owner.id;
    info.host = h->owner.host;
    info.pid = h->owner.pid;
    info.acquired_at = h->acquired_at;
    info.expires_in = h->forever ? forever
                                 : std::chrono::duration_cast<milliseconds>(h->expires - Clock::now());
  }
  return info;
}

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(Defect defect) : defect_(defect) {}

  std::string_view kind() const noexcept override { return "memory"; }
  std::unique_ptr<BackendLock> open(std::string_view name, const Owner& owner) override {
    return std::make_unique<MemoryLock>(std::string(name), owner, defect_);
  }
  LockInfo inspect(std::string_view name) override {
    std::lock_guard lock(store().mu);
    return info_of(std::string(name), store().names[std::string(name)], defect_);
  }
  std::vector<LockInfo> list() override {
    std::lock_guard lock(store().mu);
    std::vector<LockInfo> out;
    for (auto& [name, n] : store().names) {
      auto info = info_of(name, n, defect_);
      const bool omitted = defect_ == Defect::list_omits_forever && info.expires_in == forever;
      if (info.held && !omitted) out.push_back(std::move(info));
    }
    return out;
  }
  bool clear(std::string_view name) override {
    std::lock_guard lock(store().mu);
    Name& n = store().names[std::string(name)];
    const bool had = live_holder(n).has_value();
    n.holder.reset();
    if (defect_ != Defect::clear_wakes_nobody) store().changed.notify_all();
    return had;
  }

 private:
  Defect defect_;
};

}  // namespace

Defect parse_defect(std::string_view text) {
  static const std::map<std::string_view, Defect> by_name{
      {"none", Defect::none},
      {"waiters-always-zero", Defect::waiters_always_zero},
      {"acquire-hangs", Defect::acquire_hangs},
      {"try-jumps-queue", Defect::try_jumps_queue},
      {"clear-wakes-nobody", Defect::clear_wakes_nobody},
      {"list-omits-forever", Defect::list_omits_forever},
  };
  const auto it = by_name.find(text);
  if (it == by_name.end()) throw std::invalid_argument("unknown defect: " + std::string(text));
  return it->second;
}

std::shared_ptr<Backend> make_memory_backend(Defect defect) { return std::make_shared<MemoryBackend>(defect); }

}  // namespace baton::selftest
