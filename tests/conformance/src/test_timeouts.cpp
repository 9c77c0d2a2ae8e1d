// docs/design.md §1.4 timeouts and cancellation.
#include <catch2/catch.hpp>

#include <atomic>
#include <stop_token>
#include <thread>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {
void anchor_timeouts() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// Requests a stop on `source` when it goes out of scope.
struct StopOnExit {
  std::stop_source& source;
  ~StopOnExit() { source.request_stop(); }
};

}  // namespace

TEST_CASE("acquire_for on a held lock gives up after the timeout and leaves no trace",
          "[conformance][timeout][smoke]") {
  CLAUSE_AT("§1.4", "BackendLock::acquire",
            "acquire_for(timeout) and acquire_until(deadline) on a held lock give up when the time passes "
            "[+250 ms], return false and leave no trace (inspect().waiters as before)");
  auto manager = make_manager();
  const auto name = unique_name("timeout");
  auto holder = manager.lock(name);
  auto other = manager.lock(name);
  holder.acquire();
  const auto prior = manager.inspect(name).waiters;

  auto t0 = baton::Clock::now();
  CHECK_FALSE(other.acquire_for(300ms));
  auto elapsed = ms_since(t0);
  CHECK(elapsed >= 290ms);
  CHECK(elapsed <= 300ms + 250ms);
  CHECK_FALSE(other.holds());
  CHECK(manager.inspect(name).waiters == prior);

  t0 = baton::Clock::now();
  CHECK_FALSE(other.acquire_until(baton::Clock::now() + 300ms));
  elapsed = ms_since(t0);
  CHECK(elapsed >= 290ms);
  CHECK(elapsed <= 300ms + 250ms);
  CHECK(manager.inspect(name).waiters == prior);

  t0 = baton::Clock::now();
  CHECK_FALSE(other.try_lock_for(std::chrono::milliseconds(300)));
  CHECK(ms_since(t0) <= 300ms + 250ms);

  holder.release();
  INFO("once the holder released, acquire_for(300 ms) succeeds");
  CHECK(other.acquire_for(300ms));
  other.release();
}

TEST_CASE("a waiter that timed out does not delay the waiters behind it", "[conformance][timeout][process]") {
  const auto clause = CLAUSE_TEXT("§1.4", "BackendLock::acquire",
                                  "an abandoned attempt leaves no trace: the waiters behind it are neither blocked "
                                  "nor delayed");
  INFO(clause);
  auto manager = make_manager();
  const auto name = unique_name("timeout-queue");
  auto holder = manager.lock(name);
  auto behind = manager.lock(name);
  holder.acquire();

  // The waiter that gives up is queued first, `behind` after it.
  std::optional<TempDir> dir;
  std::optional<Helper> helper;
  auto quitter_lock = manager.lock(name);
  std::unique_ptr<ThreadWaiter> quitter;
  const auto quit_after = 600ms;
  const auto started = baton::Clock::now();

  SECTION("the waiter that gives up is a thread") {
    quitter = std::make_unique<ThreadWaiter>(quitter_lock, quit_after);
  }
  SECTION("the waiter that gives up is another process") {
    dir.emplace();
    helper.emplace("wait", std::vector<std::string>{name, dir->path().string(), "0",
                                                    std::to_string(quit_after.count()), "release"});
    REQUIRE(wait_for_file(dir->path() / "ready-0", 20s));
  }
  INFO(clause);  // again: the end of a SECTION dropped it
  require_waiter_count(manager, name, 1);
  ThreadWaiter waiter(behind, 20s, [](baton::Lock& l) { l.release(); });
  require_waiter_count(manager, name, 2);

  if (quitter) {
    INFO("the first waiter's acquire_for(" << quit_after.count() << " ms) must return false [+250 ms]; "
                                           << quitter->error());
    REQUIRE(quitter->result(quit_after + 2s) == std::optional<bool>(false));
    CHECK(quitter->returned_at() - started <= quit_after + 250ms + 250ms);  // + the setup above
  } else {
    const auto rc = helper->wait_exit(quit_after + 5s);
    INFO("the first waiter, helper " << helper->description()
                                     << ", must time out (exit 3) after " << quit_after.count() << " ms");
    REQUIRE(rc.has_value());
    CHECK(*rc == 3);  // timed out
  }
  {
    // No trace: only `behind` is left in the queue.
    CLAUSE_AT("§1.4", "Backend::inspect",
              "no trace: after the first waiter gave up, inspect().waiters counts only the one behind it, within "
              "250 ms");
    CHECK(wait_for_waiters(manager, name, 1, 250ms) == 1);
  }
  {
    CLAUSE("§1.1", "the waiter behind must not be granted while the holder holds");
    CHECK_FALSE(waiter.returned());
  }

  const auto released = baton::Clock::now();
  holder.release();
  INFO("on the holder's release, the waiter behind the abandoned attempt is granted promptly (500 ms); "
       << waiter.error());
  REQUIRE(waiter.result(dead_waiter_bound() + 2s) == std::optional<bool>(true));
  CHECK(waiter.returned_at() - released <= 500ms);
}

TEST_CASE("a zero or negative timeout makes exactly one attempt", "[conformance][timeout][smoke]") {
  CLAUSE_AT("§1.4", "BackendLock::try_acquire",
            "a timeout of zero or less, or a deadline already past, makes exactly one attempt, like try_acquire()");
  auto manager = make_manager();
  const auto name = unique_name("zero-timeout");
  auto holder = manager.lock(name);
  auto other = manager.lock(name);
  holder.acquire();

  const auto t0 = baton::Clock::now();
  CHECK_FALSE(other.acquire_for(0ms));
  CHECK_FALSE(other.acquire_for(-50ms));
  CHECK_FALSE(other.acquire_until(baton::Clock::now() - 1s));
  CHECK_FALSE(other.acquire_until(baton::Clock::now()));
  CHECK(ms_since(t0) < 500ms);
  {
    CLAUSE_AT("§1.4", "Backend::inspect", "one attempt never queues: inspect().waiters stays 0");
    CHECK(manager.inspect(name).waiters == 0);
  }
  CHECK_FALSE(other.holds());

  INFO("with the lock free, each of these single attempts succeeds");
  holder.release();
  CHECK(other.acquire_for(0ms));
  other.release();
  CHECK(other.acquire_for(-1ms));
  other.release();
  CHECK(other.acquire_until(baton::Clock::now() - 1s));
  other.release();
}

TEST_CASE("a stop_token cancels a blocking acquire promptly and leaves no trace", "[conformance][timeout]") {
  const auto clause = CLAUSE_TEXT("§1.4", "BackendLock::acquire (its stop_token)",
                                  "a stop request makes a blocking acquire give up [+250 ms; the suite allows "
                                  "500 ms], return false and leave no trace");
  INFO(clause);
  auto manager = make_manager();
  const auto name = unique_name("cancel");
  auto holder = manager.lock(name);
  auto other = manager.lock(name);
  holder.acquire();

  SECTION("acquire_until(max)") {
    // Declared before the thread, so it names the step while the thread is
    // joined: an acquire that ignores the stop request never returns.
    Step step("a thread in acquire_until(max) must return once a stop is requested (docs/design.md §1.4)");
    std::stop_source source;
    std::atomic<int> result{-1};
    std::atomic<baton::Clock::rep> returned_at{0};
    std::jthread t([&] {
      try {
        result = other.acquire_until(baton::Clock::time_point::max(), source.get_token()) ? 1 : 0;
      } catch (...) {
        result = 2;
      }
      returned_at = baton::Clock::now().time_since_epoch().count();
    });
    // Destroyed before `t` is joined: a failed check below requests the stop
    // on its way out, so it cannot turn into a hang.
    const StopOnExit stop_on_exit{source};
    require_waiter_count(manager, name, 1);
    const auto t0 = baton::Clock::now();
    source.request_stop();
    INFO("acquire_until(max) must return within 2 s of the stop request");
    REQUIRE(eventually(2s, [&] { return result.load() != -1; }));
    INFO("its result: 0 false (expected), 1 granted, 2 threw");
    CHECK(result == 0);
    CHECK(baton::Clock::time_point(baton::Clock::duration(returned_at.load())) - t0 <= 500ms);
  }
  SECTION("acquire_for(long)") {
    ThreadWaiter waiter(other, 30s);
    require_waiter_count(manager, name, 1);
    const auto t0 = baton::Clock::now();
    waiter.request_stop();
    INFO("acquire_for(30 s) must return false within 2 s of the stop request; " << waiter.error());
    REQUIRE(waiter.result(2s) == std::optional<bool>(false));
    CHECK(waiter.returned_at() - t0 <= 500ms);
  }
  SECTION("a stop already requested") {
    std::stop_source source;
    source.request_stop();
    const auto t0 = baton::Clock::now();
    CHECK_FALSE(other.acquire_for(30s, source.get_token()));
    CHECK(ms_since(t0) <= 500ms);
  }
  INFO(clause);  // again: the end of a SECTION dropped it
  {
    CLAUSE_AT("§1.4", "Backend::inspect", "no trace: inspect().waiters is back to 0 within 250 ms");
    CHECK(wait_for_waiters(manager, name, 0, 250ms) == 0);
  }
  CHECK_FALSE(other.holds());
  holder.release();
  INFO("with the lock free and nobody waiting, try_acquire() succeeds");
  CHECK(other.try_acquire());
  other.release();
}
