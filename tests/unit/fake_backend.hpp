// fake_backend.hpp: a scriptable in-process backend for the core's unit
// tests. One FakeStore holds every name: a waiting acquire polls it, a
// renewal answers as `renew_mode` says, and the names in `fail_acquire` /
// `fail_release` make those calls throw BackendUnavailable. Counters tell
// which calls reached the backend.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>

#include "baton/backend.hpp"
#include "baton/error.hpp"

namespace baton::test {

using namespace std::chrono_literals;

struct FakeStore {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::string> holder;  // name -> owner id
  std::uint64_t next_token = 100;
  std::atomic<int> acquires{0}, try_acquires{0}, renews{0}, releases{0};
  // renew_batch() calls, and the most renewals one of them carried.
  std::atomic<int> batches{0};
  std::atomic<std::size_t> largest_batch{0};
  enum class RenewMode { ok, lost, unreachable };
  std::atomic<RenewMode> renew_mode{RenewMode::ok};
  // Names whose acquire (either kind) or release throws BackendUnavailable;
  // guarded by `mu`.
  std::set<std::string> fail_acquire, fail_release;
};

class FakeLock final : public baton::BackendLock {
 public:
  FakeLock(std::shared_ptr<FakeStore> store, std::string name, std::string owner)
      : store_(std::move(store)), name_(std::move(name)), owner_(std::move(owner)) {}

  std::optional<std::uint64_t> acquire(baton::Clock::time_point deadline, std::chrono::milliseconds,
                                       std::stop_token stop) override {
    ++store_->acquires;
    std::unique_lock lock(store_->mu);
    fail_if(store_->fail_acquire, "acquire");
    while (store_->holder.count(name_) != 0) {
      if (stop.stop_requested() || baton::Clock::now() >= deadline) return std::nullopt;
      store_->cv.wait_until(lock, std::min(deadline, baton::Clock::now() + 5ms));
    }
    store_->holder[name_] = owner_;
    return store_->next_token++;
  }
  std::optional<std::uint64_t> try_acquire(std::chrono::milliseconds) override {
    ++store_->try_acquires;
    std::lock_guard lock(store_->mu);
    fail_if(store_->fail_acquire, "try_acquire");
    if (store_->holder.count(name_) != 0) return std::nullopt;
    store_->holder[name_] = owner_;
    return store_->next_token++;
  }
  bool renew(std::chrono::milliseconds) override {
    ++store_->renews;
    switch (store_->renew_mode.load()) {
      case FakeStore::RenewMode::unreachable: throw baton::BackendUnavailable("fake: unreachable");
      case FakeStore::RenewMode::lost: return false;
      case FakeStore::RenewMode::ok: break;
    }
    std::lock_guard lock(store_->mu);
    auto it = store_->holder.find(name_);
    return it != store_->holder.end() && it->second == owner_;
  }
  bool release() override {
    ++store_->releases;
    std::lock_guard lock(store_->mu);
    fail_if(store_->fail_release, "release");
    auto it = store_->holder.find(name_);
    const bool mine = it != store_->holder.end() && it->second == owner_;
    if (mine) store_->holder.erase(it);
    store_->cv.notify_all();
    return mine;
  }

 private:
  // Called with store_->mu held.
  void fail_if(const std::set<std::string>& failing, const char* call) const {
    if (failing.count(name_) != 0) throw baton::BackendUnavailable(std::string("fake: ") + call + " " + name_);
  }

  std::shared_ptr<FakeStore> store_;
  std::string name_, owner_;
};

class FakeBackend final : public baton::Backend {
 public:
  explicit FakeBackend(std::shared_ptr<FakeStore> store) : store_(std::move(store)) {}
  std::string_view kind() const noexcept override { return "fake"; }
  std::unique_ptr<baton::BackendLock> open(std::string_view name, const baton::Owner& owner) override {
    return std::make_unique<FakeLock>(store_, std::string(name), owner.id);
  }
  baton::LockInfo inspect(std::string_view name) override {
    std::lock_guard lock(store_->mu);
    baton::LockInfo info;
    info.name = name;
    info.held = store_->holder.count(std::string(name)) != 0;
    return info;
  }
  std::vector<baton::LockInfo> list() override { return {}; }
  void renew_batch(std::span<baton::Renewal> batch) noexcept override {
    ++store_->batches;
    if (batch.size() > store_->largest_batch) store_->largest_batch = batch.size();
    baton::Backend::renew_batch(batch);
  }
  bool clear(std::string_view name) override {
    std::lock_guard lock(store_->mu);
    store_->cv.notify_all();
    return store_->holder.erase(std::string(name)) != 0;
  }

 private:
  std::shared_ptr<FakeStore> store_;
};

}  // namespace baton::test
