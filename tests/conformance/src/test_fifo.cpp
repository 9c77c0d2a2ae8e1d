// docs/design.md §1.3 FIFO, and try_acquire() never jumping the queue.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_fifo() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

TEST_CASE("FIFO across processes: staggered waiters are granted in arrival order",
          "[conformance][fifo][process][smoke]") {
  CLAUSE_AT("§1.3", "BackendLock::acquire",
            "waiters are granted in the order their acquire reached the store, across processes");
  TempDir dir;
  auto manager = make_manager();
  const auto name = unique_name("fifo-procs");
  auto holder = manager.lock(name);
  holder.acquire();
  const auto holder_token = holder.token();

  constexpr int waiters = 5;
  std::vector<Helper> helpers;
  for (int i = 0; i < waiters; ++i) {
    const auto id = std::to_string(i);
    helpers.emplace_back("wait", std::vector<std::string>{name, dir.path().string(), id, "30000", "release"});
    INFO("waiter " << i << " (helper " << helpers.back().description() << ")");
    REQUIRE(wait_for_file(dir / ("ready-" + id), 20s));
    // The handshake that its acquire reached the store: the waiter count.
    require_waiter_count(manager, name, static_cast<std::size_t>(i + 1));
    std::this_thread::sleep_for(50ms);  // stagger, as waiters arriving over time
  }
  {
    CLAUSE_AT("§1.9", "Backend::inspect", "inspect().waiters counts every live queued waiter");
    CHECK(manager.inspect(name).waiters == static_cast<std::size_t>(waiters));
  }
  holder.release();
  check_all_exit_0(helpers, 30s);
  const auto lines = read_lines(dir / "order");
  INFO("grants recorded by the waiters, in grant order");
  REQUIRE(lines.size() == static_cast<std::size_t>(waiters));
  std::uint64_t last = holder_token;
  for (int i = 0; i < waiters; ++i) {
    INFO("grant " << i << ": " << lines[i]);
    CHECK(field(lines[i], "id") == std::to_string(i));
    const auto token = std::stoull(field(lines[i], "token"));
    CLAUSE("§1.7", "tokens strictly increase in grant order");
    CHECK(token > last);
    last = token;
  }
  CLAUSE_AT("§1.9", "Backend::inspect", "nothing is left queued once every waiter was served");
  CHECK(manager.inspect(name).waiters == 0);
}

TEST_CASE("FIFO across threads and managers: waiters are granted in arrival order", "[conformance][fifo]") {
  CLAUSE_AT("§1.3", "BackendLock::acquire",
            "waiters are granted in the order their acquire reached the store, across threads and managers");
  auto m1 = make_manager();
  auto m2 = make_manager();
  const auto name = unique_name("fifo-threads");
  auto holder = m1.lock(name);
  holder.acquire();

  constexpr int n = 6;
  std::mutex mu;
  std::vector<int> order;
  std::vector<baton::Lock> locks;
  for (int i = 0; i < n; ++i) locks.push_back((i % 2 ? m2 : m1).lock(name));
  std::vector<std::unique_ptr<ThreadWaiter>> waiters;
  for (int i = 0; i < n; ++i) {
    waiters.push_back(std::make_unique<ThreadWaiter>(locks[i], 20s, [&, i](baton::Lock& l) {
      {
        std::lock_guard g(mu);
        order.push_back(i);
      }
      l.release();
    }));
    INFO("waiter " << i);
    require_waiter_count(m1, name, static_cast<std::size_t>(i + 1));
  }
  holder.release();
  for (int i = 0; i < n; ++i) {
    INFO("waiter " << i << ": " << waiters[i]->error());
    REQUIRE(waiters[i]->finish(10s));
    CHECK(waiters[i]->result(0ms) == std::optional<bool>(true));
  }
  std::vector<int> expected;
  for (int i = 0; i < n; ++i) expected.push_back(i);
  std::lock_guard g(mu);
  INFO("grant order (waiter indices, in arrival order 0.." << n - 1 << ")");
  CHECK(order == expected);
}

TEST_CASE("FIFO: waiters behind a slow head waiter do not overtake it", "[conformance][fifo][process]") {
  CLAUSE_AT("§1.3", "BackendLock::acquire",
            "a live head waiter that is slow to react keeps its place: the lock waits for it, waiters behind "
            "it do not overtake it");
  TempDir dir;
  auto manager = make_manager();
  const auto name = unique_name("fifo-slow-head");
  auto holder = manager.lock(name);
  holder.acquire();

  // Queue: a helper process (the head), a thread, another helper process.
  Helper head("wait", {name, dir.path().string(), "head", "30000", "hold"});
  REQUIRE(wait_for_file(dir / "ready-head", 20s));
  require_waiter_count(manager, name, 1);
  auto second = manager.lock(name);
  ThreadWaiter second_waiter(second, 30s, [&](baton::Lock& l) {
    append_line(dir / "order", "id=second token=" + std::to_string(l.token()));
    l.release();
  });
  require_waiter_count(manager, name, 2);
  Helper third("wait", {name, dir.path().string(), "third", "30000", "release"});
  REQUIRE(wait_for_file(dir / "ready-third", 20s));
  require_waiter_count(manager, name, 3);

  // The head cannot react for a while: longer than a waiter's poll or
  // heartbeat interval (so waiters behind it do look at the free lock, even
  // on a backend that wakes only the head), shorter than its liveness bound
  // (it is alive and keeps its place). The lock must wait for it, not go to
  // whoever asks next.
  head.signal(SIGSTOP);
  holder.release();
  std::this_thread::sleep_for(std::min<milliseconds>(1500ms, dead_waiter_bound() / 3));
  {
    INFO("while the head waiter is stopped, neither waiter behind it may be granted the lock");
    CHECK_FALSE(second_waiter.returned());
    CHECK_FALSE(fs::exists(dir / "acquired-third"));
  }
  head.signal(SIGCONT);
  {
    INFO("the resumed head waiter must be granted the lock (within 10 s)");
    REQUIRE(wait_for_file(dir / "acquired-head", 10s));
  }
  std::this_thread::sleep_for(100ms);
  {
    CLAUSE("§1.1", "while the head holds, neither waiter behind it may be granted the lock");
    CHECK_FALSE(second_waiter.returned());
    CHECK_FALSE(fs::exists(dir / "acquired-third"));
  }
  write_file(dir / "release-head", "");
  REQUIRE(head.wait_exit(10s) == std::optional<int>(0));
  {
    INFO("after the head's release the second waiter (a thread) is granted the lock; " << second_waiter.error());
    REQUIRE(second_waiter.result(10s) == std::optional<bool>(true));
  }
  {
    INFO("the third waiter (a helper process) is granted the lock after the second and exits 0");
    REQUIRE(third.wait_exit(10s) == std::optional<int>(0));
  }
  const auto lines = read_lines(dir / "order");
  INFO("grants recorded, in grant order");
  REQUIRE(lines.size() == 3);
  CHECK(field(lines[0], "id") == "head");
  CHECK(field(lines[1], "id") == "second");
  CHECK(field(lines[2], "id") == "third");
}

TEST_CASE("try_acquire never jumps the queue while the head waiter is a stopped process",
          "[conformance][fifo][process]") {
  CLAUSE_AT("§1.3", "BackendLock::try_acquire",
            "try_acquire() succeeds only if the lock is free and nobody is waiting; a lock being handed to a "
            "waiter is not free");
  auto manager = make_manager();
  const auto name = unique_name("nojump");
  auto holder = manager.lock(name);
  auto intruder = manager.lock(name);

  TempDir dir;
  holder.acquire();
  Helper waiter("wait", {name, dir.path().string(), "0", "30000", "hold"});
  REQUIRE(wait_for_file(dir / "ready-0", 20s));
  require_waiter_count(manager, name, 1);
  CHECK_FALSE(intruder.try_acquire());  // held and queued
  // Stop the waiter so it cannot take the lock: after the release the lock
  // is free (or granted to the stopped waiter) but someone is waiting.
  waiter.signal(SIGSTOP);
  holder.release();
  CHECK_FALSE(intruder.try_acquire());
  CHECK_FALSE(intruder.acquire_for(0ms));
  CHECK_FALSE(intruder.holds());
  {
    const auto info = manager.inspect(name);
    CLAUSE_AT("§1.9", "Backend::inspect",
              "the lock is free with the stopped waiter queued, or granted to it (pid "
                  << waiter.pid() << "): " << Catch::Detail::stringify(info));
    CHECK((info.held ? info.pid == waiter.pid() : info.waiters == 1));
  }
  waiter.signal(SIGCONT);
  {
    INFO("the resumed waiter must be granted the lock (within 10 s)");
    REQUIRE(wait_for_file(dir / "acquired-0", 10s));
  }
  {
    CLAUSE("§1.1", "try_acquire() fails while the resumed waiter holds");
    CHECK_FALSE(intruder.try_acquire());
  }
  write_file(dir / "release-0", "");
  const auto rc = waiter.wait_exit(10s);
  INFO("the waiter helper " << waiter.description() << " exits 0 after its release");
  REQUIRE(rc.has_value());
  CHECK(*rc == 0);
  {
    INFO("with the lock free and nobody waiting, try_acquire() succeeds");
    CHECK(intruder.try_acquire());
  }
  intruder.release();
}

TEST_CASE("try_acquire never jumps the queue while the lock is handed to a waiting thread", "[conformance][fifo]") {
  CLAUSE_AT("§1.3", "BackendLock::try_acquire",
            "try_acquire() succeeds only if the lock is free and nobody is waiting; a lock being handed to a "
            "waiter is not free");
  auto manager = make_manager();
  const auto name = unique_name("nojump");
  auto holder = manager.lock(name);
  auto intruder = manager.lock(name);
  auto waiting = manager.lock(name);
  for (int round = 0; round < 15; ++round) {
    INFO("round " << round);
    holder.acquire();
    std::atomic<bool> let_go{false};
    ThreadWaiter waiter(waiting, 20s, [&](baton::Lock& l) {
      eventually(10s, [&] { return let_go.load(); });
      l.release();
    });
    require_waiter_count(manager, name, 1);
    holder.release();
    {
      INFO("try_acquire() right after the release, while the lock is handed to the queued waiter");
      CHECK_FALSE(intruder.try_acquire());
    }
    {
      CLAUSE_AT("§1.3", "BackendLock::release", "the release hands the lock to the queued waiter; "
                                                    << waiter.error());
      REQUIRE(waiter.result(5s) == std::optional<bool>(true));
    }
    {
      CLAUSE("§1.1", "try_acquire() fails while the waiter holds");
      CHECK_FALSE(intruder.try_acquire());
    }
    let_go = true;
    REQUIRE(waiter.finish(5s));
    INFO("the waiter's release threw: " << waiter.then_error());
    CHECK(waiter.then_error().empty());
  }
  INFO("with the lock free and nobody waiting, try_acquire() succeeds");
  REQUIRE(intruder.try_acquire());
  intruder.release();
}
