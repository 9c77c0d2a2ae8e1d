// docs/design.md §1.1 mutual exclusion, §1.2 re-entrancy per instance.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_exclusion() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// Checks that `tokens` strictly increase, reporting the first offence.
void check_strictly_increasing(const std::vector<std::uint64_t>& tokens) {
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    INFO("grant " << i << ": token " << tokens[i] << " after " << tokens[i - 1]);
    REQUIRE(tokens[i] > tokens[i - 1]);
  }
}

}  // namespace

TEST_CASE("mutual exclusion: 8 threads on two managers lose no increment", "[conformance][exclusion]") {
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
  INFO("first error: " << first_error);
  CHECK(failures == 0);
  CHECK(overlaps == 0);
  CHECK(counter == threads * iterations);
  REQUIRE(tokens.size() == static_cast<std::size_t>(threads * iterations));
  check_strictly_increasing(tokens);
}

TEST_CASE("mutual exclusion: 8-process counter loses no increment, tokens increase in grant order",
          "[conformance][exclusion][process]") {
  TempDir dir;
  const auto name = unique_name("mutex-procs");
  constexpr int processes = 8;
  constexpr int iterations = 25;
  std::vector<Helper> helpers;
  for (int i = 0; i < processes; ++i) {
    helpers.emplace_back("counter", std::vector<std::string>{name, dir.path().string(),
                                                             std::to_string(iterations), std::to_string(i)});
  }
  for (int i = 0; i < processes; ++i) {
    INFO("helper " << i << " never got ready");
    REQUIRE(wait_for_file(dir / ("ready-" + std::to_string(i)), 30s));
  }
  write_file(dir / "go", "");
  check_all_exit_0(helpers, 90s);
  const auto counter = read_file(dir / "counter");
  REQUIRE(counter.has_value());
  CHECK(std::stol(*counter) == processes * iterations);
  std::vector<std::uint64_t> tokens;
  for (const auto& line : read_lines(dir / "tokens")) tokens.push_back(std::stoull(line));
  REQUIRE(tokens.size() == static_cast<std::size_t>(processes * iterations));
  check_strictly_increasing(tokens);
}

TEST_CASE("re-entrancy is counted per instance and re-entry keeps the token",
          "[conformance][reentrancy][smoke]") {
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
  CHECK_FALSE(b.try_acquire());

  for (int i = 5; i >= 1; --i) {
    a.release();
    CHECK(a.hold_count() == static_cast<std::size_t>(i));
    CHECK(a.holds());
    CHECK(a.token() == token);
    const auto info = manager.inspect(name);
    CHECK(info.held);
    CHECK(info.token == token);
    CHECK_FALSE(b.try_acquire());
  }
  a.release();
  CHECK_FALSE(a.holds());
  CHECK(a.hold_count() == 0);
  CHECK(a.token() == 0);
  CHECK_FALSE(manager.inspect(name).held);
  CHECK_THROWS_AS(a.release(), std::logic_error);

  REQUIRE(b.try_acquire());
  CHECK(b.token() > token);
  b.release();
}

TEST_CASE("two instances of one name contend like strangers, even in one thread",
          "[conformance][reentrancy][smoke]") {
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
  CHECK(ms_since(t0) >= 190ms);
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
  auto manager = make_manager();
  const auto name = unique_name("reentry-queue");
  auto a = manager.lock(name);
  auto b = manager.lock(name);
  a.acquire();
  const auto token = a.token();
  ThreadWaiter waiter(b, 20s, [](baton::Lock& l) { l.release(); });
  REQUIRE(wait_for_waiters(manager, name, 1) == 1);

  const auto t0 = baton::Clock::now();
  a.acquire();
  CHECK(ms_since(t0) < 250ms);
  CHECK(a.hold_count() == 2);
  CHECK(a.token() == token);
  a.release();
  std::this_thread::sleep_for(100ms);
  CHECK_FALSE(waiter.returned());  // still held at count 1
  CHECK(manager.inspect(name).token == token);
  a.release();
  REQUIRE(waiter.result(5s) == std::optional<bool>(true));
  CHECK(waiter.token() > token);
}
