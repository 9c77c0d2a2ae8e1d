// docs/design.md §1.5 TTL / lease, §1.6 crashes, §1.8 lost-lease notification.
#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_lease() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// A helper holding `name` (task "hold") in its own directory.
struct HeldByHelper {
  TempDir dir;
  std::optional<Helper> process;
  std::uint64_t token = 0;

  HeldByHelper(const std::string& name, milliseconds ttl, bool auto_renew) {
    process.emplace("hold", std::vector<std::string>{name, dir.path().string(), std::to_string(ttl.count()),
                                                     auto_renew ? "1" : "0"});
    INFO("the holder helper " << process->description() << " must acquire the free lock within 20 s");
    REQUIRE(wait_for_file(dir / "acquired", 20s));
    const auto text = read_file(dir / "acquired");
    REQUIRE(text.has_value());
    token = std::stoull(field(*text, "token"));
    CLAUSE("§1.7", "every grant carries a token greater than 0");
    REQUIRE(token > 0);
  }

  // Tells the helper to release; returns its result line.
  std::string release() {
    write_file(dir / "release", "");
    const auto rc = process->wait_exit(20s);
    INFO("the holder helper " << process->description() << " must exit 0 once told to release");
    REQUIRE(rc.has_value());
    CHECK(*rc == 0);
    return read_file(dir / "result").value_or("");
  }
};

const auto ttl = 1000ms;

}  // namespace

TEST_CASE("a holder that does not renew loses the lock when its lease ends", "[conformance][ttl][slow]") {
  CLAUSE_AT("§1.5", "BackendLock::acquire, BackendLock::renew",
            "a holder that does not renew loses the lock when its lease ends; the next waiter is granted it "
            "within the lease [+1 s]");
  auto manager = make_manager();
  const auto name = unique_name("expire");
  auto holder = manager.lock(name, {.ttl = ttl, .auto_renew = false});
  auto other = manager.lock(name);
  CHECK(holder.ttl() == ttl);

  SECTION("a waiter gets it within the lease + 1 s; the old holder's release reports the loss") {
    holder.acquire();
    const auto granted = baton::Clock::now();
    const auto old_token = holder.token();
    REQUIRE(other.acquire_for(ttl + 3s));
    const auto waited = ms_since(granted);
    CHECK(waited >= ttl - 50ms);  // not before the lease ends
    CHECK(waited <= ttl + 1s);
    {
      CLAUSE("§1.7", "the grant after an expiry has a greater token");
      CHECK(other.token() > old_token);
    }
    {
      CLAUSE_AT("§1.8", "BackendLock::release", "the expired holder's release() reports the loss (LockLost)");
      CHECK_THROWS_AS(holder.release(), baton::LockLost);
      CHECK_FALSE(holder.holds());
    }
    // The loss report did not touch the new grant.
    const auto info = manager.inspect(name);
    CLAUSE_AT("§1.8", "BackendLock::release",
              "a stale instance never touches a newer holder's grant: " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == other.token());
    auto third = manager.lock(name);
    CHECK_FALSE(third.try_acquire());
    other.release();
  }
  SECTION("with nobody waiting, the lease still ends and renew() reports the loss") {
    holder.acquire();
    std::this_thread::sleep_for(ttl + 500ms);
    {
      CLAUSE_AT("§1.9", "Backend::inspect", "a lease that ended is no grant: inspect() reports the lock free");
      CHECK_FALSE(manager.inspect(name).held);
    }
    CLAUSE_AT("§1.8", "BackendLock::renew, BackendLock::release",
              "renew() finds the lease gone and throws LockLost; release() reports it once and settles it");
    CHECK_THROWS_AS(holder.renew(), baton::LockLost);
    CHECK_FALSE(holder.holds());
    CHECK(holder.hold_count() == 0);
    // renew() reports the loss; release() reports it too and settles it.
    CHECK_THROWS_AS(holder.release(), baton::LockLost);
    CHECK_FALSE(holder.lost());
    CHECK_THROWS_AS(holder.release(), std::logic_error);  // nothing left to report
    INFO("the expired lock is free: try_acquire() of another instance succeeds");
    REQUIRE(other.try_acquire());
    other.release();
  }
}

TEST_CASE("a process that stops renewing loses the lock to a waiter within the lease + 1 s",
          "[conformance][ttl][process]") {
  CLAUSE_AT("§1.5", "BackendLock::acquire",
            "a holder process that does not renew loses the lock when its lease ends; the next waiter is granted "
            "it within the lease [+1 s]");
  auto manager = make_manager();
  const auto name = unique_name("expire-proc");
  HeldByHelper helper(name, ttl, /*auto_renew=*/false);
  const auto seen = baton::Clock::now();  // the grant was a little earlier
  auto other = manager.lock(name);
  REQUIRE(other.acquire_for(ttl + 3s));
  CHECK(ms_since(seen) <= ttl + 1s);
  {
    CLAUSE("§1.7", "the grant after an expiry has a greater token");
    CHECK(other.token() > helper.token);
  }
  const auto result = helper.release();
  INFO("helper result: " << result);
  {
    CLAUSE_AT("§1.8", "BackendLock::release", "the expired holder's release() reports the loss");
    CHECK(field(result, "release") == "lost");
  }
  CLAUSE_AT("§1.8", "Backend::inspect", "the stale holder's release left the new grant alone");
  CHECK(manager.inspect(name).token == other.token());
  other.release();
}

TEST_CASE("auto-renewal keeps a lease held past several TTLs", "[conformance][ttl][process][slow]") {
  const auto clause = CLAUSE_TEXT("§1.5", "BackendLock::renew",
                                  "the manager renews every held lease in the background, so a live process keeps "
                                  "its locks past several leases");
  INFO(clause);
  auto manager = make_manager();
  const auto name = unique_name("autorenew");
  auto other = manager.lock(name);

  SECTION("in this process") {
    auto holder = manager.lock(name, {.ttl = ttl});
    holder.acquire();
    require_finite_lease(manager, name, ttl);
    const auto token = holder.token();
    const auto t0 = baton::Clock::now();
    CHECK_FALSE(other.acquire_for(3500ms));
    CHECK(ms_since(t0) >= 3490ms);
    CHECK(holder.holds());
    CHECK_FALSE(holder.lost());
    const auto info = manager.inspect(name);
    {
      CLAUSE_AT("§1.9", "Backend::inspect",
                "after 3.5 s the renewed lease is held with its token and 0 < expires_in <= ttl: "
                    << Catch::Detail::stringify(info));
      CHECK(info.held);
      CHECK(info.token == token);
      CHECK(info.expires_in > 0ms);
      CHECK(info.expires_in <= ttl);
    }
    INFO("a renewed lease renews and releases without a loss");
    CHECK_NOTHROW(holder.renew());
    CHECK_NOTHROW(holder.release());
  }
  SECTION("in another process") {
    HeldByHelper helper(name, ttl, /*auto_renew=*/true);
    CHECK_FALSE(other.acquire_for(3500ms));
    {
      CLAUSE_AT("§1.9", "Backend::inspect", "after 3.5 s the helper's grant is still the one held");
      CHECK(manager.inspect(name).token == helper.token);
    }
    const auto result = helper.release();
    INFO("helper result: " << result);
    CLAUSE("§1.8", "the auto-renewed holder's release succeeds, and on_lost never ran");
    CHECK(field(result, "release") == "ok");
    CHECK(field(result, "callbacks") == "0");
  }
  INFO(clause);  // again: the end of a SECTION dropped it
  INFO("after the release, try_acquire() succeeds");
  CHECK(other.try_acquire());
  other.release();
}

TEST_CASE("renew() by hand extends the lease", "[conformance][ttl][slow]") {
  CLAUSE_AT("§1.5", "BackendLock::renew", "with auto_renew = false, renew(ttl) by the holder extends its lease");
  auto manager = make_manager();
  const auto name = unique_name("renew");
  auto holder = manager.lock(name, {.ttl = ttl, .auto_renew = false});
  auto other = manager.lock(name);
  CHECK_THROWS_AS(holder.renew(), std::logic_error);  // not holding

  holder.acquire();
  require_finite_lease(manager, name, ttl);
  const auto token = holder.token();
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(600ms);
    REQUIRE_NOTHROW(holder.renew());
    CHECK_FALSE(other.try_acquire());
  }
  // 1.8 s after the grant of a 1 s lease: still held thanks to renew().
  REQUIRE_NOTHROW(holder.renew(3000ms));
  {
    const auto info = manager.inspect(name);
    CLAUSE_AT("§1.9", "Backend::inspect",
              "right after renew(3000 ms), 2000 ms < expires_in <= 3000 ms: " << Catch::Detail::stringify(info));
    CHECK(info.held);
    CHECK(info.token == token);
    CHECK(info.expires_in > 2000ms);
    CHECK(info.expires_in <= 3000ms);
  }
  std::this_thread::sleep_for(1500ms);  // past the 1 s ttl, within the 3 s renewal
  CHECK_FALSE(other.try_acquire());
  CHECK(holder.holds());
  CHECK(holder.token() == token);
  CHECK_NOTHROW(holder.release());
  CHECK(other.try_acquire());
  other.release();
}

TEST_CASE("a lease of baton::forever does not expire and ttl zero is the manager's default",
          "[conformance][ttl][slow]") {
  CLAUSE_AT("§1.5", "BackendLock::acquire",
            "a lease of baton::forever never ends; a lock's ttl of zero is the manager's default (30 s unless set)");
  auto manager = make_manager({.default_ttl = ttl});
  const auto name = unique_name("forever");
  auto holder = manager.lock(name, {.ttl = baton::forever, .auto_renew = false});
  auto other = manager.lock(name);
  CHECK(holder.ttl() == baton::forever);
  CHECK(other.ttl() == ttl);
  CHECK(manager.default_ttl() == ttl);

  {
    // A bounded lease on a name of its own first: the forever checks below
    // mean something only if expires_in reports a finite lease.
    auto bounded = manager.lock(unique_name("forever-bounded"), {.auto_renew = false});
    bounded.acquire();
    require_finite_lease(manager, bounded.name(), ttl);
    bounded.release();
  }
  holder.acquire();
  {
    CLAUSE_AT("§1.9", "Backend::inspect", "a forever lease reports expires_in baton::forever");
    CHECK(manager.inspect(name).expires_in == baton::forever);
  }
  {
    CLAUSE_AT("§1.9", "Backend::list", "list() reports a lock held with a forever lease, with expires_in baton::forever");
    std::size_t listed = 0;
    for (const auto& info : manager.list()) {
      if (info.name != name) continue;
      ++listed;
      CHECK(info.expires_in == baton::forever);
    }
    CHECK(listed == 1);
  }
  {
    INFO("nobody else gets a lock held with a forever lease, past the manager's default ttl");
    CHECK_FALSE(other.acquire_for(ttl + 1500ms));
    CHECK(holder.holds());
  }
  {
    CLAUSE_AT("§1.9", "Backend::inspect", "still expires_in baton::forever after waiting past the default ttl");
    CHECK(manager.inspect(name).expires_in == baton::forever);
  }
  INFO("a forever lease renews and releases without a loss");
  CHECK_NOTHROW(holder.renew());
  CHECK_NOTHROW(holder.release());

  auto plain = make_manager();
  INFO("a manager without options has the default lease of 30 s");
  CHECK(plain.default_ttl() == 30s);
  CHECK(plain.lock(name).ttl() == 30s);
}

TEST_CASE("a SIGKILLed holder frees the lock within its lease + 1 s", "[conformance][crash][process]") {
  CLAUSE_AT("§1.6", "BackendLock::acquire",
            "a holder killed with SIGKILL frees the lock within its lease [+1 s], at once [+1 s] on a store that "
            "notices the dropped connection (Suite::frees_on_disconnect)");
  auto manager = make_manager();
  const auto name = unique_name("kill-holder");
  HeldByHelper helper(name, ttl, /*auto_renew=*/true);
  auto other = manager.lock(name);
  ThreadWaiter waiter(other, 20s);
  require_waiter_count(manager, name, 1);
  {
    CLAUSE_AT("§1.9", "Backend::inspect", "inspect() names the holder process's pid");
    CHECK(manager.inspect(name).pid == helper.process->pid());
  }

  const auto killed = baton::Clock::now();
  helper.process->kill();
  const auto bound = baton::conformance::detail::suite().frees_on_disconnect ? 1000ms : ttl + 1000ms;
  INFO("bound after the kill: " << bound.count() << " ms; " << waiter.error());
  REQUIRE(waiter.result(bound + 5s) == std::optional<bool>(true));
  CHECK(waiter.returned_at() - killed <= bound);
  {
    CLAUSE("§1.7", "the grant after the killed holder's has a greater token");
    CHECK(waiter.token() > helper.token);
  }
  CLAUSE_AT("§1.9", "Backend::inspect", "inspect() names the new holder, this process");
  CHECK(manager.inspect(name).pid == ::getpid());
}

TEST_CASE("a SIGKILLed queued waiter stops blocking the queue", "[conformance][crash][process][slow]") {
  CLAUSE_AT("§1.6", "BackendLock::acquire",
            "a waiter killed while queued stops blocking the queue within Suite::dead_waiter_bound (5 s unless "
            "declared) [+1 s]");
  TempDir dir;
  auto manager = make_manager();
  const auto name = unique_name("kill-waiter");
  auto holder = manager.lock(name);
  auto behind = manager.lock(name);
  holder.acquire();
  Helper doomed("wait", {name, dir.path().string(), "0", "60000", "release"});
  REQUIRE(wait_for_file(dir / "ready-0", 20s));
  require_waiter_count(manager, name, 1);
  ThreadWaiter waiter(behind, dead_waiter_bound() + 10s);
  require_waiter_count(manager, name, 2);

  const auto killed = baton::Clock::now();
  doomed.kill();
  holder.release();
  INFO("dead_waiter_bound: " << dead_waiter_bound().count() << " ms; " << waiter.error());
  REQUIRE(waiter.result(dead_waiter_bound() + 5s) == std::optional<bool>(true));
  CHECK(waiter.returned_at() - killed <= dead_waiter_bound() + 1000ms);
  INFO("the killed waiter must never have been granted the lock");
  CHECK(read_lines(dir / "order").empty());  // the dead waiter was never granted
}

TEST_CASE("a lost lease is noticed: holds() turns false, on_lost runs once, renew()/release() report it",
          "[conformance][lost]") {
  const auto clause = CLAUSE_TEXT("§1.8", "BackendLock::renew",
                                  "when a background renewal finds the lease gone (here after an admin clear, "
                                  "§1.10), holds() turns false, on_lost runs once, the loss stays pending until "
                                  "renew()/release() report it");
  INFO(clause);
  auto manager = make_manager();
  const auto name = unique_name("lost");
  std::atomic<int> calls{0};
  std::mutex mu;
  std::string lost_name;
  std::uint64_t lost_token = 0;
  auto holder = manager.lock(name, {.ttl = ttl,
                                    .auto_renew = true,
                                    .on_lost = [&](std::string_view n, std::uint64_t t) {
                                      std::lock_guard g(mu);
                                      lost_name = std::string(n);
                                      lost_token = t;
                                      ++calls;
                                    }});
  holder.acquire();
  const auto token = holder.token();
  CHECK_FALSE(holder.lost());

  {
    CLAUSE_AT("§1.10", "Backend::clear", "clear() of a held lock says it removed a live grant");
    REQUIRE(manager.clear(name));
  }
  const auto cleared = baton::Clock::now();
  {
    INFO("the next renewal (every ttl/3) must find the cleared lease gone: holds() false within "
         << (ttl / 3 + 1000ms).count() << " ms");
    REQUIRE(eventually(ttl / 3 + 1000ms, [&] { return !holder.holds(); }));
    CHECK(ms_since(cleared) <= ttl / 3 + 1000ms);
  }
  INFO("on_lost must run (on the renewal thread) within 1 s of holds() turning false");
  REQUIRE(eventually(1000ms, [&] { return calls.load() >= 1; }));
  {
    std::lock_guard g(mu);
    CHECK(lost_name == name);
    CHECK(lost_token == token);
  }
  CHECK(holder.lost());
  CHECK(holder.hold_count() == 0);
  CHECK(holder.token() == 0);
  std::this_thread::sleep_for(700ms);  // two more renewal periods
  CHECK(calls == 1);

  SECTION("release() reports the loss once") {
    CHECK_THROWS_AS(holder.release(), baton::LockLost);
    CHECK_FALSE(holder.lost());
    CHECK_THROWS_AS(holder.release(), std::logic_error);
  }
  SECTION("renew() reports the loss, then release() settles it") {
    CHECK_THROWS_AS(holder.renew(), baton::LockLost);
    CHECK_FALSE(holder.holds());
    CHECK_THROWS_AS(holder.release(), baton::LockLost);
    CHECK_FALSE(holder.lost());
    CHECK_THROWS_AS(holder.release(), std::logic_error);
  }
  SECTION("a new acquire clears it and gets a newer token") {
    REQUIRE(holder.try_acquire());
    CHECK_FALSE(holder.lost());
    CHECK(holder.token() > token);
    CHECK_NOTHROW(holder.release());
  }
  INFO(clause);  // again: the end of a SECTION dropped it
  INFO("on_lost ran once in all");
  CHECK(calls == 1);
}

TEST_CASE("a loss found by renew() runs on_lost too", "[conformance][lost]") {
  CLAUSE_AT("§1.8", "BackendLock::renew",
            "a renew() that finds the lease gone (after an admin clear) records the loss, runs on_lost once and "
            "throws LockLost");
  auto manager = make_manager();
  const auto name = unique_name("lost-renew");
  std::atomic<int> calls{0};
  auto holder = manager.lock(name, {.ttl = 30s,
                                    .auto_renew = false,
                                    .on_lost = [&](std::string_view, std::uint64_t) { ++calls; }});
  holder.acquire();
  {
    CLAUSE_AT("§1.10", "Backend::clear", "clear() of a held lock says it removed a live grant");
    REQUIRE(manager.clear(name));
  }
  CHECK(holder.holds());  // nobody has told it yet
  CHECK_THROWS_AS(holder.renew(), baton::LockLost);
  CHECK_FALSE(holder.holds());
  CHECK(holder.lost());
  CHECK(calls == 1);
  CHECK_THROWS_AS(holder.release(), baton::LockLost);
  CHECK_FALSE(holder.lost());
  CHECK_THROWS_AS(holder.release(), std::logic_error);
  CHECK(calls == 1);
}

TEST_CASE("a hung holder loses its lease, and learns it when it resumes", "[conformance][lost][process][slow]") {
  CLAUSE("§1.8", "a holder process that hangs (SIGSTOP) loses its lease; resumed, its renewal finds the lease "
                 "gone, runs on_lost once, and its release reports the loss");
  auto manager = make_manager();
  const auto name = unique_name("hung");
  HeldByHelper helper(name, ttl, /*auto_renew=*/true);
  auto other = manager.lock(name);

  helper.process->signal(SIGSTOP);
  const auto stopped = baton::Clock::now();
  {
    CLAUSE_AT("§1.5", "BackendLock::acquire",
              "a hung holder's lease ends; a waiter is granted the lock within the lease [+1 s]");
    REQUIRE(other.acquire_for(ttl + 5s));
    CHECK(ms_since(stopped) <= ttl + 1s);
  }
  {
    CLAUSE("§1.7", "the grant after the hung holder's has a greater token");
    CHECK(other.token() > helper.token);
  }

  helper.process->signal(SIGCONT);
  // Not just the file: append_line() creates it before it writes the line.
  INFO("the resumed holder's on_lost must run within " << (ttl / 3 + 2s).count() << " ms");
  REQUIRE(eventually(ttl / 3 + 2s, [&] { return !read_lines(helper.dir / "lost").empty(); }));
  // Time for a second (wrong) callback to show up.
  std::this_thread::sleep_for(200ms);
  const auto lost = read_lines(helper.dir / "lost");
  INFO("on_lost calls recorded by the helper: " << lost.size());
  REQUIRE(lost.size() == 1);
  CHECK(field(lost[0], "token") == std::to_string(helper.token));
  CHECK(field(lost[0], "name_ok") == "1");
  const auto result = helper.release();
  INFO("helper result: " << result);
  CHECK(field(result, "holds_before") == "0");
  CHECK(field(result, "lost_before") == "1");
  CHECK(field(result, "callbacks") == "1");
  CHECK(field(result, "release") == "lost");
  const auto info = manager.inspect(name);
  CLAUSE_AT("§1.8", "BackendLock::release",
            "a stale instance never touches a newer holder's grant: " << Catch::Detail::stringify(info));
  CHECK(info.held);
  CHECK(info.token == other.token());
  other.release();
}
