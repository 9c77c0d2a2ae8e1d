// LockSet's failure paths against an in-process backend whose calls fail on
// command: a store failure on one member releases the members already taken
// and reaches the caller, and a failed release of one member still releases
// the others. Contention, timeouts and loss across processes are the
// conformance suite's ([lockset]).
#include <map>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/lock_set.hpp"
#include "fake_backend.hpp"

using baton::test::FakeBackend;
using baton::test::FakeStore;

namespace {

struct Fixture {
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  baton::LockManager manager{std::make_shared<FakeBackend>(store)};

  std::size_t held() {
    std::lock_guard lock(store->mu);
    return store->holder.size();
  }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "lock set: a store failure on one member releases the members taken and rethrows") {
  store->fail_acquire.insert("c");
  auto set = manager.lock_set({"d", "c", "b", "a"});
  CHECK_THROWS_AS(set.acquire(), baton::BackendUnavailable);
  CHECK(held() == 0);
  CHECK_FALSE(set.holds());
  CHECK(set.blocked_on() == std::optional<std::string>("c"));
  CHECK_THROWS_AS(set.try_acquire(), baton::BackendUnavailable);
  CHECK(held() == 0);
  CHECK_THROWS_AS(set.release(), std::logic_error);

  store->fail_acquire.clear();
  CHECK(set.try_acquire());
  CHECK(held() == 4);
  CHECK_FALSE(set.blocked_on().has_value());
  set.release();
  CHECK(held() == 0);
}

TEST_CASE_METHOD(Fixture, "lock set: a busy member whose predecessor cannot be released reports the failure") {
  auto other = manager.lock("b");
  REQUIRE(other.try_acquire());
  store->fail_release.insert("a");
  auto set = manager.lock_set({"a", "b"});
  // "a" is taken, "b" is busy, and giving "a" back fails: the caller learns
  // that the store could not be told (the lease of "a" ends by itself).
  CHECK_THROWS_AS(set.try_acquire(), baton::BackendUnavailable);
  CHECK_FALSE(set.holds());
  CHECK(set.member("a")->hold_count() == 0);
}

TEST_CASE_METHOD(Fixture, "lock set: release() releases every member even when one fails, then throws") {
  auto set = manager.lock_set({"a", "b", "c"});
  set.acquire();
  store->fail_release.insert("b");
  CHECK_THROWS_AS(set.release(), baton::BackendUnavailable);
  CHECK_FALSE(set.holds());
  {
    std::lock_guard lock(store->mu);
    CHECK(store->holder.count("a") == 0);
    CHECK(store->holder.count("c") == 0);
  }
  CHECK(set.lost_at_release().empty());
}

TEST_CASE_METHOD(Fixture, "lock set: moving over a held set and destroying it release every member") {
  store->fail_release.clear();
  {
    auto set = manager.lock_set({"a", "b"});
    set.acquire();
    set.acquire();
    CHECK(held() == 2);
    auto other = manager.lock_set({"c"});
    other.acquire();
    other = std::move(set);
    CHECK(held() == 2);
    CHECK(other.holds());
    CHECK(other.hold_count() == 2);
  }
  CHECK(held() == 0);
}
