// docs/design.md §1.9 inspection, §1.10 admin clear.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_inspect() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

TEST_CASE("inspect reports holder, token, times and waiters", "[conformance][inspect][smoke]") {
  CLAUSE_AT("§1.9", "Backend::inspect",
            "inspect(name) reports whether the lock is held and, if so, the token, the holder's owner id (unique "
            "per Lock instance), host, pid, acquired_at and the time left on its lease; and always the number "
            "of live waiters");
  auto manager = make_manager();
  const auto name = unique_name("inspect");

  auto info = manager.inspect(name);
  {
    INFO("a lock never taken: " << Catch::Detail::stringify(info));
    CHECK(info.name == name);
    CHECK_FALSE(info.held);
    CHECK(info.waiters == 0);
  }

  auto holder = manager.lock(name, {.ttl = 2000ms});
  const auto before = std::chrono::system_clock::now();
  holder.acquire();
  const auto after = std::chrono::system_clock::now();
  info = manager.inspect(name);
  {
    INFO("held by this process with a 2000 ms lease: " << Catch::Detail::stringify(info));
    CHECK(info.name == name);
    CHECK(info.held);
    CHECK(info.token == holder.token());
    CHECK(info.pid == ::getpid());
    CHECK(info.host == host_name());
    CHECK_FALSE(info.owner.empty());
    CHECK(info.acquired_at >= before - 2s);
    CHECK(info.acquired_at <= after + 2s);
    CHECK(info.expires_in > 0ms);
    CHECK(info.expires_in <= 2000ms);
    CHECK(info.waiters == 0);
  }
  const auto holder_owner = info.owner;

  // Count waiters as they queue and as they leave.
  std::vector<baton::Lock> locks;
  for (int i = 0; i < 3; ++i) locks.push_back(manager.lock(name));
  std::vector<std::unique_ptr<ThreadWaiter>> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.push_back(std::make_unique<ThreadWaiter>(locks[i], 20s));
    INFO("inspect().waiters counts each waiter as it queues (within 5 s); waiters queued: " << i + 1);
    CHECK(wait_for_waiters(manager, name, static_cast<std::size_t>(i + 1)) == static_cast<std::size_t>(i + 1));
  }
  info = manager.inspect(name);
  {
    INFO("waiters do not change the holder: " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.owner == holder_owner);  // waiters do not change the holder
  }
  for (int i = 2; i >= 0; --i) {
    waiters[i]->request_stop();
    {
      CLAUSE("§1.4", "a stopped waiter's acquire returns false within 2 s; " << waiters[i]->error());
      REQUIRE(waiters[i]->result(2s) == std::optional<bool>(false));
    }
    INFO("inspect().waiters counts each waiter as it leaves (within 1 s); waiters left: " << i);
    CHECK(wait_for_waiters(manager, name, static_cast<std::size_t>(i), 1s) == static_cast<std::size_t>(i));
  }

  holder.release();
  info = manager.inspect(name);
  {
    INFO("after the release, with nobody queued: " << Catch::Detail::stringify(info));
    CHECK_FALSE(info.held);
    CHECK(info.waiters == 0);
  }

  // Another instance is another owner.
  auto second = manager.lock(name);
  second.acquire();
  info = manager.inspect(name);
  INFO("held by another instance, which is another owner: " << Catch::Detail::stringify(info));
  CHECK(info.held);
  CHECK(info.token == second.token());
  CHECK_FALSE(info.owner.empty());
  CHECK(info.owner != holder_owner);
  second.release();
}

TEST_CASE("inspect sees a holder and waiters in other processes", "[conformance][inspect][process]") {
  CLAUSE_AT("§1.9", "Backend::inspect",
            "inspect() reports a holder in another process (its token, pid, host, owner, lease) and waiters in "
            "other processes");
  TempDir dir;
  auto manager = make_manager();
  const auto name = unique_name("inspect-proc");
  const auto holder_dir = dir / "holder";
  fs::create_directory(holder_dir);
  Helper holder("hold", {name, holder_dir.string(), "30000", "1"});
  REQUIRE(wait_for_file(holder_dir / "acquired", 20s));
  const auto acquired = read_file(holder_dir / "acquired").value_or("");
  Helper waiter("wait", {name, dir.path().string(), "0", "30000", "release"});
  REQUIRE(wait_for_file(dir / "ready-0", 20s));
  {
    INFO("inspect().waiters counts a waiter in another process (within 5 s)");
    CHECK(wait_for_waiters(manager, name, 1) == 1);
  }

  const auto info = manager.inspect(name);
  INFO("held by helper pid " << holder.pid() << " (" << acquired << "), one waiter queued: "
                             << Catch::Detail::stringify(info));
  CHECK(info.held);
  CHECK(info.pid == holder.pid());
  CHECK(std::to_string(info.token) == field(acquired, "token"));
  CHECK(info.host == host_name());
  CHECK_FALSE(info.owner.empty());
  CHECK(info.expires_in > 0ms);
  CHECK(info.expires_in <= 30000ms);
  CHECK(info.waiters == 1);

  write_file(holder_dir / "release", "");
  REQUIRE(holder.wait_exit(10s) == std::optional<int>(0));
  CHECK(field(read_file(holder_dir / "result").value_or(""), "release") == "ok");
  {
    INFO("the waiter helper is granted the lock on the holder's release, and exits 0");
    REQUIRE(waiter.wait_exit(10s) == std::optional<int>(0));
  }
  INFO("nothing left held or queued");
  CHECK_FALSE(manager.inspect(name).held);
  CHECK(manager.inspect(name).waiters == 0);
}

TEST_CASE("list() gives every held lock and no free one", "[conformance][inspect][process]") {
  CLAUSE_AT("§1.9", "Backend::list",
            "list() returns one LockInfo per held lock (in this process or another), and none for a free one");
  TempDir dir;
  auto manager = make_manager();
  const auto base = unique_name("list") + "/";
  std::vector<baton::Lock> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(manager.lock(base + "held-" + std::to_string(i)));
    held.back().acquire();
  }
  auto released = manager.lock(base + "released");
  released.acquire();
  released.release();
  auto waited_on = manager.lock(base + "never-held");  // made, never acquired
  Helper other("hold", {base + "other-process", dir.path().string(), "30000", "1"});
  REQUIRE(wait_for_file(dir / "acquired", 20s));

  std::map<std::string, baton::LockInfo> mine;
  for (auto& info : manager.list()) {
    if (info.name.rfind(base, 0) == 0) {
      INFO("listed twice: " << info.name);
      CHECK(mine.count(info.name) == 0);
      mine[info.name] = info;
    }
  }
  std::string names;
  for (const auto& [n, info] : mine) {
    names += ' ';
    names += printable(n.substr(base.size()));
  }
  INFO("listed under this case's prefix:" << (names.empty() ? " nothing" : names));
  CHECK(mine.size() == 4);
  for (auto& lock : held) {
    INFO("held here: " << printable(lock.name()));
    REQUIRE(mine.count(lock.name()) == 1);
    const auto& info = mine[lock.name()];
    INFO("listed as " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == lock.token());
    CHECK(info.pid == ::getpid());
  }
  {
    INFO("held by helper pid " << other.pid());
    REQUIRE(mine.count(base + "other-process") == 1);
    CHECK(mine[base + "other-process"].pid == other.pid());
  }
  {
    INFO("a released lock and a lock never acquired are free: not listed");
    CHECK(mine.count(base + "released") == 0);
    CHECK(mine.count(base + "never-held") == 0);
  }

  write_file(dir / "release", "");
  REQUIRE(other.wait_exit(10s) == std::optional<int>(0));
  for (auto& lock : held) lock.release();
  for (auto& info : manager.list()) {
    INFO("a released lock is not listed: " << Catch::Detail::stringify(info));
    CHECK(info.name.rfind(base, 0) != 0);
  }
}

TEST_CASE("list() and inspect() report locks held with a forever lease", "[conformance][inspect][ttl][process]") {
  // docs/design.md §1.5: a lease of baton::forever never ends; §1.9: list()
  // returns one LockInfo per held lock, with expires_in baton::forever for
  // such a lease. A store that keeps "no expiry" as a missing or null lease
  // end must not drop those locks from list().
  CLAUSE_AT("§1.9", "Backend::list, Backend::inspect",
            "list() and inspect() report locks held with a lease of baton::forever (§1.5), with expires_in "
            "baton::forever");
  TempDir dir;
  auto manager = make_manager();
  const auto base = unique_name("list-forever") + "/";
  auto mine = manager.lock(base + "here", {.ttl = baton::forever, .auto_renew = false});
  auto bounded = manager.lock(base + "bounded", {.ttl = 30s});
  mine.acquire();
  bounded.acquire();
  // A lock with a bounded lease is listed, with its lease, before this case
  // asks the same of forever leases.
  require_listed(manager, base + "bounded");
  require_finite_lease(manager, base + "bounded", 30s);
  Helper other("hold", {base + "other-process", dir.path().string(), std::to_string(baton::forever.count()), "0"});
  {
    INFO("helper " << other.description());
    REQUIRE(wait_for_file(dir / "acquired", 20s));
  }
  const auto other_token = std::stoull(field(read_file(dir / "acquired").value_or(""), "token"));

  {
    const auto info = manager.inspect(base + "other-process");
    CLAUSE_AT("§1.9", "Backend::inspect",
              "inspect() of a lock held with a forever lease (§1.5) reports it held, expires_in baton::forever: "
                  << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == other_token);
    CHECK(info.expires_in == baton::forever);
  }
  std::map<std::string, baton::LockInfo> listed;
  for (auto& info : manager.list()) {
    if (info.name.rfind(base, 0) != 0) continue;
    CLAUSE_AT("§1.9", "Backend::list", "list() gives each held lock once; listed twice: " << printable(info.name));
    CHECK(listed.count(info.name) == 0);
    listed[info.name] = info;
  }
  std::string names;
  for (const auto& [n, info] : listed) {
    names += ' ';
    names += printable(n.substr(base.size()));
  }
  INFO("listed:" << (names.empty() ? " nothing" : names));
  {
    CLAUSE_AT("§1.9", "Backend::list", "list() must report a lock held with a forever lease (§1.5) in this process");
    REQUIRE(listed.count(base + "here") == 1);
    const auto& info = listed[base + "here"];
    INFO("listed as " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == mine.token());
    CHECK(info.pid == ::getpid());
    CHECK(info.expires_in == baton::forever);
  }
  {
    CLAUSE_AT("§1.9", "Backend::list",
              "list() must report a lock held with a forever lease (§1.5) in another process");
    REQUIRE(listed.count(base + "other-process") == 1);
    const auto& info = listed[base + "other-process"];
    INFO("listed as " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == other_token);
    CHECK(info.pid == other.pid());
    CHECK(info.expires_in == baton::forever);
  }
  {
    CLAUSE_AT("§1.9", "Backend::list", "list() reports a lock held with a bounded lease alongside, with its lease");
    REQUIRE(listed.count(base + "bounded") == 1);
    const auto& info = listed[base + "bounded"];
    INFO("listed as " << Catch::Detail::stringify(info));
    CHECK(info.token == bounded.token());
    CHECK(info.expires_in > 0ms);
    CHECK(info.expires_in <= 30s);
  }
  {
    CLAUSE_AT("§1.9", "Backend::list", "list() gives held locks only");
    CHECK(listed.size() == 3);
  }

  write_file(dir / "release", "");
  REQUIRE(other.wait_exit(10s) == std::optional<int>(0));
  {
    CLAUSE_AT("§1.5", "BackendLock::release",
              "a forever lease is released without a loss; helper result: " << read_file(dir / "result").value_or(""));
    CHECK(field(read_file(dir / "result").value_or(""), "release") == "ok");
  }
  mine.release();
  bounded.release();
  for (auto& info : manager.list()) {
    CLAUSE_AT("§1.9", "Backend::list", "a released lock is not listed: " << Catch::Detail::stringify(info));
    CHECK(info.name.rfind(base, 0) != 0);
  }
}

TEST_CASE("clear frees a held lock, the old holder cannot free the new grant, waiters keep their places",
          "[conformance][clear]") {
  CLAUSE_AT("§1.10", "Backend::clear",
            "clear(name) frees the lock whoever holds it and says whether a live grant was removed; the old "
            "holder's release cannot free the next grant; queued waiters keep their places");
  auto manager = make_manager();
  const auto name = unique_name("clear");
  {
    INFO("clear() of a free lock removes nothing and says so");
    CHECK_FALSE(manager.clear(unique_name("clear-free")));  // nothing to clear
  }

  auto old_holder = manager.lock(name);  // default ttl: renews only every ~10 s
  auto first = manager.lock(name);
  auto second = manager.lock(name);
  old_holder.acquire();
  const auto old_token = old_holder.token();

  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<bool> let_first_go{false};
  ThreadWaiter first_waiter(first, 20s, [&](baton::Lock& l) {
    {
      std::lock_guard g(mu);
      order.push_back("first");
    }
    eventually(10s, [&] { return let_first_go.load(); });
    l.release();
  });
  require_waiter_count(manager, name, 1);
  ThreadWaiter second_waiter(second, 20s, [&](baton::Lock& l) {
    {
      std::lock_guard g(mu);
      order.push_back("second");
    }
    l.release();
  });
  require_waiter_count(manager, name, 2);

  {
    INFO("clear() of a held lock says it removed a live grant");
    REQUIRE(manager.clear(name));
  }
  // The head of the queue gets it, the one behind keeps waiting.
  {
    INFO("the head waiter is granted the cleared lock within 2 s; " << first_waiter.error());
    REQUIRE(first_waiter.result(2s) == std::optional<bool>(true));
  }
  {
    CLAUSE("§1.7", "the grant after a clear has a greater token");
    CHECK(first_waiter.token() > old_token);
  }
  {
    INFO("the second waiter keeps its place behind the head");
    CHECK_FALSE(second_waiter.returned());
  }

  // The old holder's release reports the loss and leaves the new grant alone.
  {
    CLAUSE_AT("§1.8", "BackendLock::release", "the cleared holder's release() reports the loss (LockLost)");
    CHECK_THROWS_AS(old_holder.release(), baton::LockLost);
    CHECK_FALSE(old_holder.holds());
  }
  auto info = manager.inspect(name);
  {
    INFO("the cleared holder's release left the head's grant alone, one waiter queued: "
         << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == first_waiter.token());
    CHECK(info.waiters == 1);
  }
  std::this_thread::sleep_for(100ms);
  {
    INFO("the second waiter still waits while the head holds");
    CHECK_FALSE(second_waiter.returned());
  }

  let_first_go = true;
  {
    CLAUSE("§1.3", "the second waiter is granted the lock when the head releases; " << second_waiter.error());
    REQUIRE(second_waiter.result(5s) == std::optional<bool>(true));
  }
  {
    CLAUSE("§1.7", "tokens strictly increase in grant order");
    CHECK(second_waiter.token() > first_waiter.token());
  }
  REQUIRE(first_waiter.finish(5s));
  {
    INFO("the head's release threw: " << first_waiter.then_error());
    CHECK(first_waiter.then_error().empty());
  }
  REQUIRE(second_waiter.finish(5s));
  std::lock_guard g(mu);
  CLAUSE("§1.3", "grant order after the clear: the queue's order");
  CHECK(order == std::vector<std::string>{"first", "second"});
}

TEST_CASE("clear frees a lock held by another process, whose release then reports the loss",
          "[conformance][clear][process]") {
  CLAUSE_AT("§1.10", "Backend::clear",
            "clear(name) frees a lock held by another process; that holder's release reports the loss (§1.8) "
            "and cannot free the next grant");
  TempDir dir;
  auto manager = make_manager();
  const auto name = unique_name("clear-proc");
  Helper holder("hold", {name, dir.path().string(), "30000", "1"});
  REQUIRE(wait_for_file(dir / "acquired", 20s));
  auto mine = manager.lock(name);
  {
    CLAUSE("§1.1", "try_acquire() of a lock held by another process fails");
    CHECK_FALSE(mine.try_acquire());
  }
  {
    INFO("clear() of the held lock says it removed a live grant; try_acquire() then succeeds");
    REQUIRE(manager.clear(name));
    REQUIRE(mine.try_acquire());
  }
  write_file(dir / "release", "");
  REQUIRE(holder.wait_exit(10s) == std::optional<int>(0));
  const auto result = read_file(dir / "result").value_or("");
  INFO("helper result: " << result);
  {
    CLAUSE_AT("§1.8", "BackendLock::release", "the cleared holder's release() reports the loss");
    CHECK(field(result, "release") == "lost");
  }
  const auto info = manager.inspect(name);
  {
    INFO("the cleared holder's release left the new grant alone: " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == mine.token());
    CHECK(info.pid == ::getpid());
  }
  mine.release();
  INFO("clear() of a free lock removes nothing and says so");
  CHECK_FALSE(manager.clear(name));
}
