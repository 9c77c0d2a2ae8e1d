// Core semantics (re-entrancy, renewal, loss reporting, deadlines) against a
// scriptable in-process backend, so each rule is checked precisely and
// without timing slack. The cross-process contract is the conformance
// suite's job.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <scoped_allocator>
#include <thread>

#include <catch2/catch.hpp>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "fake_backend.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
using baton::test::eventually;
using baton::test::FakeBackend;
using baton::test::FakeStore;

namespace {

struct Fixture {
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  baton::LockManager manager{std::make_shared<FakeBackend>(store)};
};

}  // namespace

TEST_CASE_METHOD(Fixture, "re-entry counts holds and reaches the backend once") {
  auto lock = manager.lock("a");
  CHECK_FALSE(lock.holds());
  CHECK(lock.token() == 0);
  lock.acquire();
  const auto token = lock.token();
  CHECK(token != 0);
  CHECK(lock.acquire_for(0ms));
  CHECK(lock.try_acquire());
  CHECK(lock.hold_count() == 3);
  CHECK(lock.token() == token);
  CHECK(store->acquires + store->try_acquires == 1);
  lock.release();
  lock.release();
  CHECK(lock.holds());
  CHECK(store->releases == 0);
  lock.release();
  CHECK_FALSE(lock.holds());
  CHECK(store->releases == 1);
  CHECK_THROWS_AS(lock.release(), std::logic_error);
}

TEST_CASE_METHOD(Fixture, "two instances of one name contend in one thread") {
  auto a = manager.lock("a");
  auto b = manager.lock("a");
  a.acquire();
  CHECK_FALSE(b.try_acquire());
  CHECK_FALSE(b.acquire_for(30ms));
  a.release();
  CHECK(b.try_acquire());
  CHECK(b.token() > 0);
}

TEST_CASE_METHOD(Fixture, "zero and past deadlines are one attempt, max() waits") {
  auto a = manager.lock("a");
  auto b = manager.lock("a");
  a.acquire();
  CHECK_FALSE(b.acquire_for(-5ms));
  CHECK_FALSE(b.acquire_until(baton::Clock::now() - 1s));
  CHECK(store->try_acquires == 2);
  CHECK(store->acquires == 1);  // a's
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    a.release();
  });
  CHECK(b.acquire_until(baton::Clock::time_point::max()));
  t.join();
}

TEST_CASE_METHOD(Fixture, "a stop request ends a blocking acquire") {
  auto a = manager.lock("a");
  auto b = manager.lock("a");
  a.acquire();
  std::stop_source stop;
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  const auto start = baton::Clock::now();
  CHECK_FALSE(b.acquire_until(baton::Clock::time_point::max(), stop.get_token()));
  CHECK(baton::Clock::now() - start < 1s);
  t.join();
  CHECK_FALSE(b.acquire_for(1h, stop.get_token()));
}

TEST_CASE_METHOD(Fixture, "std::unique_lock, std::scoped_lock and timed locking work") {
  auto a = manager.lock("a");
  {
    std::unique_lock guard(a);
    CHECK(a.holds());
  }
  CHECK_FALSE(a.holds());
  auto b = manager.lock("b");
  {
    std::scoped_lock both(a, b);
    CHECK((a.holds() && b.holds()));
  }
  CHECK_FALSE((a.holds() || b.holds()));
  CHECK(a.try_lock_for(10ms));
  auto other = manager.lock("a");
  CHECK_FALSE(other.try_lock_until(std::chrono::system_clock::now() + 10ms));
  CHECK_FALSE(other.try_lock_until(baton::Clock::now() + 10ms));
  a.unlock();
  a.unlock();  // never throws, even without a hold
}

TEST_CASE_METHOD(Fixture, "the background renewal renews at about ttl/3") {
  auto lock = manager.lock("a", {.ttl = 300ms});
  lock.acquire();
  std::this_thread::sleep_for(550ms);
  // Due at ~100, 200, 300, 400, 500 ms.
  CHECK(store->renews >= 3);
  CHECK(store->renews <= 7);
  lock.release();
  const int after = store->renews;
  std::this_thread::sleep_for(250ms);
  CHECK(store->renews == after);
}

TEST_CASE_METHOD(Fixture, "leases due together are renewed in one batch; a lost one is reported alone") {
  std::mutex mu;
  std::vector<std::string> lost;
  std::vector<baton::Lock> locks;
  for (int i = 0; i < 10; ++i) {
    locks.push_back(manager.lock("batch-" + std::to_string(i), {.ttl = 3s, .on_lost = [&](std::string_view name,
                                                                                           std::uint64_t) {
                                                                   std::lock_guard guard(mu);
                                                                   lost.emplace_back(name);
                                                                 }}));
    locks.back().acquire();
  }
  // Taken well within 250 ms of each other (a quarter of the renewal
  // interval, which one batch takes in), even on a loaded machine.
  REQUIRE(eventually(5000ms, [&] { return store->renews >= 10; }));
  CHECK(store->largest_batch == 10);
  manager.clear("batch-3");
  REQUIRE(eventually(5000ms, [&] {
    std::lock_guard guard(mu);
    return !lost.empty();
  }));
  const int renews = store->renews;
  REQUIRE(eventually(5000ms, [&] { return store->renews >= renews + 9; }));
  std::lock_guard guard(mu);
  CHECK(lost == std::vector<std::string>{"batch-3"});
  for (int i = 0; i < 10; ++i) CHECK(locks[static_cast<std::size_t>(i)].holds() == (i != 3));
}

TEST_CASE_METHOD(Fixture, "no background renewal without auto_renew or with a forever lease") {
  auto manual = manager.lock("a", {.ttl = 90ms, .auto_renew = false});
  auto eternal = manager.lock("b", {.ttl = baton::forever});
  manual.acquire();
  eternal.acquire();
  std::this_thread::sleep_for(200ms);
  CHECK(store->renews == 0);
  manual.renew();
  CHECK(store->renews == 1);
}

TEST_CASE_METHOD(Fixture, "a lost lease is recorded, called back once and reported by renew and release") {
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> lost_token{0};
  std::string lost_name;
  auto lock = manager.lock("a", {.ttl = 150ms, .on_lost = [&](std::string_view name, std::uint64_t token) {
                                   lost_name = name;
                                   lost_token = token;
                                   ++calls;
                                 }});
  lock.acquire();
  lock.acquire();
  const auto token = lock.token();
  manager.clear("a");
  REQUIRE(eventually(3000ms, [&] { return calls.load() == 1; }));
  CHECK(lost_name == "a");
  CHECK(lost_token == token);
  CHECK_FALSE(lock.holds());
  CHECK(lock.lost());
  CHECK(lock.token() == 0);
  CHECK(lock.hold_count() == 0);
  CHECK_THROWS_AS(lock.renew(), baton::LockLost);
  CHECK_THROWS_AS(lock.release(), baton::LockLost);
  CHECK_FALSE(lock.lost());
  CHECK_THROWS_AS(lock.release(), std::logic_error);
  std::this_thread::sleep_for(100ms);
  CHECK(calls == 1);
  // A new grant starts clean.
  lock.acquire();
  CHECK(lock.holds());
  CHECK(lock.token() > token);
}

TEST_CASE_METHOD(Fixture, "renew() that finds the lease gone throws LockLost and calls back") {
  int calls = 0;
  auto lock = manager.lock("a", {.auto_renew = false, .on_lost = [&](auto, auto) { ++calls; }});
  lock.acquire();
  store->renew_mode = FakeStore::RenewMode::lost;
  CHECK_THROWS_AS(lock.renew(), baton::LockLost);
  CHECK(calls == 1);
  CHECK_FALSE(lock.holds());
  CHECK(lock.lost());
}

TEST_CASE_METHOD(Fixture, "an unreachable backend is retried until the lease has surely ended") {
  std::atomic<int> calls{0};
  auto lock = manager.lock("a", {.ttl = 600ms, .on_lost = [&](auto, auto) { ++calls; }});
  lock.acquire();
  store->renew_mode = FakeStore::RenewMode::unreachable;
  std::this_thread::sleep_for(350ms);
  // First renewal failed at ~200 ms; the lease (600 ms) is still running.
  CHECK(lock.holds());
  CHECK(calls == 0);
  CHECK(store->renews >= 2);
  store->renew_mode = FakeStore::RenewMode::ok;
  std::this_thread::sleep_for(700ms);
  CHECK(lock.holds());  // recovered before the lease ended
  store->renew_mode = FakeStore::RenewMode::unreachable;
  REQUIRE(eventually(2000ms, [&] { return calls.load() == 1; }));
  CHECK_FALSE(lock.holds());
}

TEST_CASE_METHOD(Fixture, "destroying or moving over a held Lock releases it") {
  {
    auto lock = manager.lock("a");
    lock.acquire();
    lock.acquire();
  }
  CHECK(store->releases == 1);
  auto a = manager.lock("a");
  a.acquire();
  auto b = manager.lock("b");
  a = std::move(b);
  CHECK(store->releases == 2);
  CHECK(manager.lock("a").try_acquire());
}

TEST_CASE("a Lock outlives its manager and keeps renewing") {
  auto store = std::make_shared<FakeStore>();
  std::optional<baton::Lock> lock;
  {
    baton::LockManager manager(std::make_shared<FakeBackend>(store));
    lock.emplace(manager.lock("a", {.ttl = 90ms}));
    lock->acquire();
  }
  std::this_thread::sleep_for(200ms);
  CHECK(store->renews >= 2);
  CHECK(lock->holds());
  lock.reset();
  CHECK(store->releases == 1);
}

TEST_CASE("an on_lost callback may destroy the last Lock of a manager") {
  auto store = std::make_shared<FakeStore>();
  std::atomic<bool> done{false};
  auto holder = std::make_shared<std::optional<baton::Lock>>();
  {
    baton::LockManager manager(std::make_shared<FakeBackend>(store));
    holder->emplace(manager.lock("a", {.ttl = 60ms, .on_lost = [holder, &done](auto, auto) {
                                         holder->reset();
                                         done = true;
                                       }}));
    (*holder)->acquire();
    store->renew_mode = FakeStore::RenewMode::lost;
  }
  REQUIRE(eventually(3000ms, [&] { return done.load(); }));
}

TEST_CASE_METHOD(Fixture, "one instance may be shared by threads: the hold belongs to the instance") {
  auto lock = manager.lock("shared");
  std::atomic<int> inside{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 200; ++j) {
        lock.acquire();
        ++inside;
        lock.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(inside == 800);
  CHECK_FALSE(lock.holds());
  CHECK(manager.lock("shared").try_acquire());
}

TEST_CASE_METHOD(Fixture, "invalid names are refused before reaching the backend") {
  CHECK_THROWS_AS(manager.lock(""), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock(std::string(1025, 'n')), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock("__baton:x"), baton::InvalidName);
  CHECK_THROWS_AS(manager.inspect(""), baton::InvalidName);
  CHECK_THROWS_AS(manager.clear(""), baton::InvalidName);
}

TEST_CASE_METHOD(Fixture, "a resource lock is the lock of its full name, out of reach of user names") {
  auto resource = manager.resource_lock("table", "dict");
  CHECK(resource.name() == "__baton/table/dict");
  // The same visible text in the user namespace is a different lock.
  auto same_text = manager.lock("table/dict");
  auto same_name = manager.lock("dict");
  REQUIRE(resource.try_acquire());
  CHECK(same_text.try_acquire());
  CHECK(same_name.try_acquire());
  CHECK(store->holder.count("__baton/table/dict") == 1);
  CHECK(store->holder.count("table/dict") == 1);
  // A user cannot reach it by its full name, alone or in a set.
  CHECK_THROWS_AS(manager.lock("__baton/table/dict"), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock_set({"a", "__baton/table/dict"}), baton::InvalidName);
  // The operator's calls see it by its full name.
  CHECK(manager.inspect("__baton/table/dict").held);
  // Another instance of the same resource lock contends with it.
  auto rival = manager.resource_lock("table", "dict");
  CHECK_FALSE(rival.try_acquire());
  resource.release();
  CHECK(rival.try_acquire());
  rival.release();
  CHECK(manager.resource_lock("table", "dict/x").try_acquire());  // a different name part, a different lock
  same_text.release();
  same_name.release();
}

TEST_CASE_METHOD(Fixture, "bad resource lock kinds and names are refused before reaching the backend") {
  const auto opens = store->holder.size();
  CHECK_THROWS_AS(manager.resource_lock("", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("ta/ble", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("TABLE", "dict"), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("table", ""), baton::InvalidName);
  CHECK_THROWS_AS(manager.resource_lock("table", std::string(1011, 'n')), baton::InvalidName);
  CHECK_NOTHROW(manager.resource_lock("table", std::string(1010, 'n')));
  CHECK(store->holder.size() == opens);
  CHECK(store->acquires + store->try_acquires == 0);
}
