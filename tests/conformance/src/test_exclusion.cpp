// docs/design.md §1.1 mutual exclusion, §1.2 re-entrancy per instance.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_exclusion() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// Checks that `tokens` strictly increase, reporting the first offence.
void check_strictly_increasing(const std::vector<std::uint64_t>& tokens) {
  CLAUSE("§1.7", "every grant's token is strictly greater than every earlier token of the name, in grant order");
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    INFO("grant " << i << ": token " << tokens[i] << " after " << tokens[i - 1]);
    REQUIRE(tokens[i] > tokens[i - 1]);
  }
}

}  // namespace

TEST_CASE("mutual exclusion: 8 threads on two managers lose no increment", "[conformance][exclusion]") {
  CLAUSE_AT("§1.1", "BackendLock::acquire",
            "no two Lock instances of one name hold at once, across threads and managers; an overlap or a lost "
            "read-modify-write increment shows two holders");
  auto m1 = make_manager();
  auto m2 = make_manager();
  const auto name = unique_name("mutex-threads");
  constexpr int threads = 8;
  constexpr int iterations = 30;

  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<long> counter{0};  // load then store: a lost increment shows
  std::atomic<int> failures{0};
  std::mutex mu;
  std::vector<std::uint64_t> tokens;
  std::string first_error;
  {
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        try {
          auto lock = (t % 2 ? m2 : m1).lock(name);
          for (int i = 0; i < iterations; ++i) {
            if (!lock.acquire_for(30s)) {
              ++failures;
              return;
            }
            if (inside.fetch_add(1) != 0) ++overlaps;
            const long v = counter.load();
            std::this_thread::sleep_for(200us);
            counter.store(v + 1);
            {
              std::lock_guard g(mu);
              tokens.push_back(lock.token());
            }
            inside.fetch_sub(1);
            lock.release();
          }
        } catch (const std::exception& e) {
          ++failures;
          std::lock_guard g(mu);
          if (first_error.empty()) first_error = e.what();
        }
      });
    }
  }
  {
    INFO("threads whose acquire_for(30 s) gave up or threw: " << failures.load()
                                                              << "; first error: " << first_error);
    CHECK(failures == 0);
  }
  {
    INFO("times a thread entered the critical section while another was inside it");
    CHECK(overlaps == 0);
  }
  {
    INFO("the counter after " << threads << " x " << iterations << " increments under the lock");
    CHECK(counter == threads * iterations);
  }
  INFO("grants recorded (one per successful acquire)");
  REQUIRE(tokens.size() == static_cast<std::size_t>(threads * iterations));
  check_strictly_increasing(tokens);
}

TEST_CASE("mutual exclusion: 8-process counter loses no increment, tokens increase in grant order",
          "[conformance][exclusion][process]") {
  CLAUSE_AT("§1.1", "BackendLock::acquire",
            "no two Lock instances of one name hold at once across processes; a lost increment of the shared "
            "counter file shows two holders");
  TempDir dir;
  const auto name = unique_name("mutex-procs");
  check_strictly_increasing(run_counter_helpers("counter", {name}, dir, 8, 25));
}

TEST_CASE("re-entrancy is counted per instance and re-entry keeps the token",
          "[conformance][reentrancy][smoke]") {
  CLAUSE("§1.2",
         "acquire() on an instance that holds returns at once and raises hold_count(); each release() lowers it; "
         "re-entry keeps the token and the grant is freed at zero");
  auto manager = make_manager();
  const auto name = unique_name("reentrant");
  auto a = manager.lock(name);
  auto b = manager.lock(name);
  CHECK(a.name() == name);
  CHECK_FALSE(a.holds());
  CHECK(a.hold_count() == 0);
  CHECK(a.token() == 0);

  a.acquire();
  const auto token = a.token();
  CHECK(token > 0);
  CHECK(a.holds());
  CHECK(a.hold_count() == 1);
  a.acquire();
  CHECK(a.hold_count() == 2);
  CHECK(a.try_acquire());
  CHECK(a.hold_count() == 3);
  CHECK(a.acquire_for(0ms));
  CHECK(a.hold_count() == 4);
  CHECK(a.acquire_for(100ms));
  CHECK(a.acquire_until(baton::Clock::now() + 100ms));
  CHECK(a.hold_count() == 6);
  CHECK(a.token() == token);
  {
    CLAUSE_AT("§1.1", "BackendLock::try_acquire", "another instance cannot take a held lock");
    CHECK_FALSE(b.try_acquire());
  }

  for (int i = 5; i >= 1; --i) {
    INFO("after a release, hold count " << i << " expected");
    a.release();
    CHECK(a.hold_count() == static_cast<std::size_t>(i));
    CHECK(a.holds());
    CHECK(a.token() == token);
    const auto info = manager.inspect(name);
    CLAUSE_AT("§1.2", "Backend::inspect",
              "a lock held at a count above zero stays held, with its token: " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == token);
    CHECK_FALSE(b.try_acquire());
  }
  a.release();
  CHECK_FALSE(a.holds());
  CHECK(a.hold_count() == 0);
  CHECK(a.token() == 0);
  {
    CLAUSE_AT("§1.2", "BackendLock::release, Backend::inspect", "the last release frees the grant");
    CHECK_FALSE(manager.inspect(name).held);
  }
  {
    INFO("a release() without a hold is a logic error");
    CHECK_THROWS_AS(a.release(), std::logic_error);
  }
  {
    CLAUSE_AT("§1.2", "BackendLock::try_acquire", "once freed, another instance takes the lock");
    REQUIRE(b.try_acquire());
  }
  {
    CLAUSE("§1.7", "the next grant's token is greater");
    CHECK(b.token() > token);
  }
  b.release();
}

TEST_CASE("two instances of one name contend like strangers, even in one thread",
          "[conformance][reentrancy][smoke]") {
  CLAUSE_AT("§1.2", "BackendLock::try_acquire, BackendLock::acquire",
            "two instances of one name contend like strangers, even in one thread and on one manager");
  auto manager = make_manager();
  auto other_manager = make_manager();
  const auto name = unique_name("strangers");
  auto a = manager.lock(name);
  auto b = manager.lock(name);
  auto c = other_manager.lock(name);

  a.acquire();
  CHECK_FALSE(b.try_acquire());
  CHECK_FALSE(c.try_acquire());
  const auto t0 = baton::Clock::now();
  CHECK_FALSE(b.acquire_for(200ms));
  {
    CLAUSE("§1.4", "acquire_for(200 ms) on a held lock returns false after the timeout, not before");
    CHECK(ms_since(t0) >= 190ms);
  }
  CHECK_FALSE(b.holds());
  CHECK(b.hold_count() == 0);
  CHECK(b.token() == 0);
  CHECK(a.holds());

  a.release();
  REQUIRE(b.try_acquire());
  CHECK_FALSE(a.try_acquire());
  CHECK_FALSE(c.try_acquire());
  b.release();
  REQUIRE(c.try_acquire());
  CHECK_FALSE(a.try_acquire());
  c.release();
}

TEST_CASE("re-entry returns at once even while others wait", "[conformance][reentrancy]") {
  CLAUSE("§1.2", "re-entry does not touch the store: it returns at once even behind a queued waiter, and the "
                 "grant is freed only when the count reaches zero");
  auto manager = make_manager();
  const auto name = unique_name("reentry-queue");
  auto a = manager.lock(name);
  auto b = manager.lock(name);
  a.acquire();
  const auto token = a.token();
  ThreadWaiter waiter(b, 20s, [](baton::Lock& l) { l.release(); });
  require_waiter_count(manager, name, 1);

  const auto t0 = baton::Clock::now();
  a.acquire();
  CHECK(ms_since(t0) < 250ms);
  CHECK(a.hold_count() == 2);
  CHECK(a.token() == token);
  a.release();
  std::this_thread::sleep_for(100ms);
  {
    CLAUSE("§1.1", "the waiter must not be granted while the lock is still held at count 1");
    CHECK_FALSE(waiter.returned());
    CHECK(manager.inspect(name).token == token);
  }
  a.release();
  {
    CLAUSE_AT("§1.3", "BackendLock::release", "the last release hands the lock to the waiter; " << waiter.error());
    REQUIRE(waiter.result(5s) == std::optional<bool>(true));
  }
  CLAUSE("§1.7", "the waiter's grant has a greater token");
  CHECK(waiter.token() > token);
}
