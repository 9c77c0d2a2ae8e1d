// docs/design.md §1.11 names, §1.12 errors (contention is a result), and the
// std Lockable names.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/name.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_names() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;
using namespace std::string_literals;

namespace {

// `base` + `fill` repeated + `last` so the whole is exactly `bytes` long.
std::string name_of_size(const std::string& base, std::size_t bytes, char fill, char last) {
  std::string s = base;
  s.resize(bytes - 1, fill);
  s += last;
  return s;
}

}  // namespace

TEST_CASE("names are byte strings used verbatim and look-alikes are distinct locks", "[conformance][names][smoke]") {
  CLAUSE("§1.11", "a name is any byte string of 1 to 1024 bytes, used verbatim: quotes, spaces, %, *, newlines, NUL "
                  "bytes, invalid UTF-8 are ordinary bytes, so look-alike names are distinct locks");
  auto manager = make_manager();
  auto rival_manager = make_manager();
  const auto base = unique_name("names") + "/";
  const std::vector<std::string> suffixes = {
      "plain",
      "with space",
      " leading and trailing ",
      "\"double\" quotes",
      "'single' quotes",
      "'; DROP TABLE x; --",
      "\"); DROP TABLE locks; --",
      "a%",
      "ab",
      "a_",
      "a",
      "%",
      "*",
      "?",
      "[ab]",
      "\\",
      "\\*",
      "]]",
      "]]..[[",
      "]=]",
      "{tag}",
      "line\nbreak",
      "tab\there",
      "a\0b"s,
      "a\0c"s,
      "\0"s,
      "ключ-🔒-日本",
      "\xff\xfe\x80 not utf-8",
      "${HOME}",
      "$1",
      ":colon:",
      "__baton",  // reserved only at the start of a name
  };
  std::vector<std::string> names;
  for (const auto& s : suffixes) names.push_back(base + s);
  names.push_back(name_of_size(base, baton::max_name_bytes, 'x', 'y'));
  names.push_back(name_of_size(base, baton::max_name_bytes, 'x', 'z'));  // differs in the last byte only
  {
    const std::set<std::string> distinct(names.begin(), names.end());
    REQUIRE(distinct.size() == names.size());
  }

  std::vector<baton::Lock> locks;
  for (const auto& n : names) {
    INFO("name " << printable(n));
    REQUIRE_NOTHROW(locks.push_back(manager.lock(n)));
    CHECK(locks.back().name() == n);
    // Each is free although all the others are held: no two collide.
    CLAUSE_AT("§1.11", "BackendLock::try_acquire",
              "each name is free although all the others are held: no two names collide");
    REQUIRE(locks.back().try_acquire());
  }
  for (auto& lock : locks) {
    INFO("name " << printable(lock.name()));
    const auto info = manager.inspect(lock.name());
    CLAUSE_AT("§1.9", "Backend::inspect",
              "inspect() of each held name reports it held under that very name, with its token: "
                  << Catch::Detail::stringify(info));
    CHECK(info.name == lock.name());
    CHECK(info.held);
    CHECK(info.token == lock.token());
    auto rival = rival_manager.lock(lock.name());
    CLAUSE("§1.1", "another manager's instance of the same name cannot take it");
    CHECK_FALSE(rival.try_acquire());
  }
  // The names below are read back through list(): it must list an ordinary
  // held name before it is asked to list the odd ones.
  require_listed(manager, base + "plain");
  std::map<std::string, int> listed;
  for (const auto& info : manager.list()) {
    if (info.name.rfind(base, 0) == 0) ++listed[info.name];
  }
  {
    CLAUSE_AT("§1.9", "Backend::list", "list() gives every held name once, byte for byte");
    CHECK(listed.size() == names.size());
    for (const auto& n : names) {
      INFO("name " << printable(n));
      CHECK(listed[n] == 1);
    }
  }

  // Release the look-alike "ab": "a%", "a_", "*" are still held, "ab" is free.
  const auto ab = base + "ab";
  for (auto& lock : locks) {
    if (lock.name() == ab) lock.release();
  }
  {
    CLAUSE_AT("§1.11", "BackendLock::release",
              "releasing \"ab\" frees that name only; its look-alike \"a%\" is still held");
    CHECK_FALSE(manager.inspect(ab).held);
    CHECK(manager.inspect(base + "a%").held);
  }
  for (auto& lock : locks) {
    if (lock.holds()) lock.release();
  }
  for (const auto& n : names) {
    INFO("name " << printable(n));
    CLAUSE_AT("§1.9", "Backend::inspect", "after every release, inspect() reports each name free");
    CHECK_FALSE(manager.inspect(n).held);
  }
}

TEST_CASE("wildcard-looking names never match other names", "[conformance][names][smoke]") {
  CLAUSE_AT("§1.11", "Backend::inspect, Backend::clear, BackendLock::try_acquire",
            "names never reach a query or a script as code: a wildcard-looking name (a%, a_, *, [a]b, .*) matches "
            "only itself");
  auto manager = make_manager();
  const auto base = unique_name("wild") + "/";
  auto ab = manager.lock(base + "ab");
  auto a_c = manager.lock(base + "a\0c"s);
  REQUIRE(ab.try_acquire());
  REQUIRE(a_c.try_acquire());

  for (const auto& pattern : {"a%"s, "a_"s, "*"s, "a*"s, "?b"s, "[a]b"s, "%"s, "a"s, "a\0"s, ".*"s}) {
    const auto n = base + pattern;
    INFO("name " << printable(n));
    const auto info = manager.inspect(n);
    CHECK_FALSE(info.held);
    CHECK(info.waiters == 0);
    CHECK_FALSE(manager.clear(n));
    auto lock = manager.lock(n);
    CHECK(lock.try_acquire());
    lock.release();
  }
  INFO("the two held names are untouched by the look-alike attempts, clears included");
  CHECK(ab.holds());
  CHECK(a_c.holds());
  CHECK(manager.inspect(base + "ab").held);
  CHECK(manager.inspect(base + "ab").token == ab.token());
  CHECK(manager.inspect(base + "a\0c"s).token == a_c.token());
  CHECK_NOTHROW(ab.release());
  CHECK_NOTHROW(a_c.release());
}

TEST_CASE("invalid names are rejected with InvalidName", "[conformance][names][smoke]") {
  CLAUSE("§1.11", "an empty name, one longer than 1024 bytes, or one that begins with __baton is a "
                  "baton::InvalidName error, never a crash or an injection");
  auto manager = make_manager();
  const auto base = unique_name("bad") + "/";
  const std::string too_long = name_of_size(base, baton::max_name_bytes + 1, 'x', 'y');
  REQUIRE(too_long.size() == 1025);

  CHECK_THROWS_AS(manager.lock(""), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock(too_long), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock(std::string(4096, 'x')), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock("__baton"), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock("__baton/anything"), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock("__batonx"), baton::InvalidName);
  CHECK_THROWS_AS(manager.inspect(""), baton::InvalidName);
  CHECK_THROWS_AS(manager.inspect(too_long), baton::InvalidName);
  CHECK_THROWS_AS(manager.clear(""), baton::InvalidName);
  CHECK_THROWS_AS(manager.clear(too_long), baton::InvalidName);
  CHECK_THROWS_AS(baton::validate_name(""), baton::InvalidName);
  CHECK_THROWS_AS(baton::validate_name("__baton.x"), baton::InvalidName);
  CHECK_NOTHROW(baton::validate_name("__baton.x", /*allow_reserved=*/true));

  // Near misses are fine.
  INFO("near misses of the rules are valid names");
  for (const auto& ok : {base + "__baton", "_baton"s, "__bato"s, " __baton"s,
                         name_of_size(base, baton::max_name_bytes, 'x', 'y')}) {
    INFO("name " << printable(ok));
    CHECK_NOTHROW(baton::validate_name(ok));
  }
  auto fine = manager.lock(name_of_size(base, baton::max_name_bytes, 'q', 'q'));
  CHECK(fine.try_acquire());
  fine.release();
}

TEST_CASE("contention is a result, not an exception", "[conformance][errors][smoke]") {
  CLAUSE_AT("§1.12", "BackendLock::try_acquire, BackendLock::acquire",
            "contention is a result (false), never an exception");
  auto manager = make_manager();
  const auto name = unique_name("contention");
  auto holder = manager.lock(name);
  auto other = manager.lock(name);
  holder.acquire();
  bool got = true;
  CHECK_NOTHROW(got = other.try_acquire());
  CHECK_FALSE(got);
  got = true;
  CHECK_NOTHROW(got = other.acquire_for(50ms));
  CHECK_FALSE(got);
  got = true;
  CHECK_NOTHROW(got = other.try_lock());
  CHECK_FALSE(got);
  got = true;
  CHECK_NOTHROW(got = other.try_lock_for(std::chrono::milliseconds(20)));
  CHECK_FALSE(got);
  CHECK_NOTHROW(manager.inspect(name));
  CHECK_NOTHROW(manager.list());
  holder.release();
}

TEST_CASE("std::unique_lock, std::scoped_lock and the TimedLockable names work", "[conformance][std][smoke]") {
  CLAUSE("§1", "the standard lock names: Lock meets Lockable and TimedLockable, so std::unique_lock, "
               "std::scoped_lock and std::lock work with it");
  auto manager = make_manager();
  const auto n1 = unique_name("std-a");
  const auto n2 = unique_name("std-b");
  auto a = manager.lock(n1);
  auto b = manager.lock(n2);
  auto a2 = manager.lock(n1);

  {
    std::unique_lock<baton::Lock> guard(a);
    CHECK(guard.owns_lock());
    CHECK(a.holds());
    CHECK_FALSE(a2.try_lock());
    std::unique_lock<baton::Lock> attempt(a2, std::try_to_lock);
    CHECK_FALSE(attempt.owns_lock());
    std::unique_lock<baton::Lock> timed(a2, std::chrono::milliseconds(50));
    CHECK_FALSE(timed.owns_lock());
    CHECK_FALSE(a2.try_lock_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
    CHECK_FALSE(a2.try_lock_until(std::chrono::system_clock::now() + std::chrono::milliseconds(50)));
  }
  CHECK_FALSE(a.holds());
  {
    std::scoped_lock both(a, b);
    CHECK(a.holds());
    CHECK(b.holds());
    CHECK(manager.inspect(n1).held);
    CHECK(manager.inspect(n2).held);
  }
  CHECK_FALSE(a.holds());
  CHECK_FALSE(b.holds());
  CHECK(a2.try_lock_for(std::chrono::milliseconds(100)));
  CHECK(a2.holds());
  a2.unlock();
  CHECK(a2.try_lock_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
  a2.unlock();
  CHECK(a2.try_lock_until(std::chrono::system_clock::now() + std::chrono::milliseconds(100)));
  a2.unlock();
  CHECK_FALSE(a2.holds());
  CHECK_FALSE(manager.inspect(n1).held);
}

TEST_CASE("an unreachable store is BackendUnavailable within its timeout, not a hang",
          "[conformance][errors][unreachable]") {
  CLAUSE("§1.12", "a store that cannot be reached fails the call with baton::BackendUnavailable within the "
                  "backend's connect timeout (Suite::unreachable_bound, 10 s unless declared); it never hangs");
  const auto make = baton::conformance::detail::suite().make_unreachable_backend;
  // The driver skips this case when the factory is missing (capabilities.hpp).
  if (!make) FAIL("Suite::make_unreachable_backend is not set");
  const auto configured = baton::conformance::detail::suite().unreachable_bound;
  const auto bound = configured > 0ms ? configured : milliseconds{10000};
  const auto name = unique_name("unreachable");
  // In a thread, so a hang fails the test instead of blocking it (the
  // thread is then detached and leaked; it owns copies of what it uses).
  struct Outcome {
    std::atomic<int> state{0};  // 1 BackendUnavailable, 2 another exception, 3 no error
    std::string message;
  };
  auto outcome = std::make_shared<Outcome>();
  const auto t0 = baton::Clock::now();
  std::thread t([outcome, make, name] {
    try {
      baton::LockManager manager(make());
      manager.inspect(name);
      auto lock = manager.lock(name);
      lock.acquire_for(1000ms);
      outcome->state.store(3);
    } catch (const baton::BackendUnavailable& e) {
      outcome->message = e.what();
      outcome->state.store(1);
    } catch (const std::exception& e) {
      outcome->message = e.what();
      outcome->state.store(2);
    }
  });
  if (!eventually(bound + 2s, [&] { return outcome->state.load() != 0; })) {
    t.detach();
    FAIL("a backend from Suite::make_unreachable_backend is still blocked after "
         << (bound + 2s).count() << " ms (making it, inspect(), or acquire_for(1000 ms))");
  }
  t.join();
  INFO("outcome " << outcome->state.load() << " (1 BackendUnavailable, 2 another exception, 3 no error): "
                  << outcome->message);
  CHECK(outcome->state.load() == 1);
  CHECK(ms_since(t0) <= bound);
}
