// docs/design.md §1.13 lock sets: all or nothing, canonical order, per-name
// status, tokens, re-entry and loss, over the Backend interface.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/lock_set.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_lock_set() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

namespace {

// Three fresh names, and each one's waiter count as it is now.
struct ThreeNames {
  std::vector<std::string> names;
  std::map<std::string, std::size_t> waiters;

  ThreeNames(baton::LockManager& manager, std::string_view tag) {
    for (const char* suffix : {"-a", "-b", "-c"}) names.push_back(unique_name(tag) + suffix);
    for (const auto& n : names) waiters[n] = manager.inspect(n).waiters;
  }
};

// Checks that no name of `set` is held and each has its earlier waiter count.
void check_nothing_left(baton::LockManager& manager, const baton::LockSet& set, const ThreeNames& three,
                        const std::string& busy) {
  CLAUSE_AT("§1.13", "LockSet::acquire_until",
            "an attempt that gives up holds nothing and leaves every name's waiter count as it was");
  CHECK_FALSE(set.holds());
  CHECK(set.hold_count() == 0);
  for (const auto& n : three.names) {
    INFO("name " << n);
    const auto info = manager.inspect(n);
    CHECK(info.waiters == three.waiters.at(n));
    if (n != busy) CHECK_FALSE(info.held);
  }
}

}  // namespace

TEST_CASE("lock set: an attempt that times out, is cancelled or tries holds nothing and leaves no waiter",
          "[conformance][lockset][timeout][smoke]") {
  auto manager = make_manager();
  ThreeNames three(manager, "set-timeout");
  const auto busy = three.names[1];
  auto holder = manager.lock(busy);
  holder.acquire();
  auto set = manager.lock_set(three.names);

  {
    INFO("acquire_for(300 ms) with the middle name held");
    CHECK_FALSE(set.acquire_for(300ms));
    CHECK(set.blocked_on() == busy);
    check_nothing_left(manager, set, three, busy);
  }
  {
    INFO("try_acquire() with the middle name held");
    CHECK_FALSE(set.try_acquire());
    CHECK_FALSE(set.try_lock());
    CHECK(set.blocked_on() == busy);
    check_nothing_left(manager, set, three, busy);
  }
  {
    INFO("acquire_until(no deadline, stop) cancelled while queued on the middle name");
    std::stop_source stop;
    std::atomic<int> result{-1};
    std::jthread waiter([&] { result = set.acquire_until(baton::Clock::time_point::max(), stop.get_token()); });
    require_waiter_count(manager, busy, three.waiters.at(busy) + 1);
    {
      CLAUSE_AT("§1.13", "LockSet::acquire_until", "while the set waits for a name, it holds those before it");
      CHECK(manager.inspect(three.names[0]).held);
      CHECK_FALSE(manager.inspect(three.names[2]).held);
    }
    stop.request_stop();
    waiter.join();
    CHECK(result == 0);
    check_nothing_left(manager, set, three, busy);
  }
  holder.release();
  CLAUSE_AT("§1.13", "LockSet::acquire_for", "once the name is free the whole set is granted");
  REQUIRE(set.acquire_for(5s));
  CHECK(set.holds());
  CHECK_FALSE(set.blocked_on().has_value());
  for (const auto& n : three.names) CHECK(manager.inspect(n).held);
  set.release();
  for (const auto& n : three.names) CHECK_FALSE(manager.inspect(n).held);
}

TEST_CASE("lock set: status names the holder of the busy member and its lease",
          "[conformance][lockset][inspect]") {
  CLAUSE_AT("§1.13", "LockSet::status",
            "after a failed attempt, each name's status says whether the set holds it and who holds it if not");
  auto manager = make_manager();
  ThreeNames three(manager, "set-status");
  const auto busy = three.names[2];
  baton::LockOptions options;
  options.ttl = 20s;
  auto holder = manager.lock(busy, options);
  holder.acquire();
  auto set = manager.lock_set(three.names);
  REQUIRE_FALSE(set.try_acquire());

  const auto status = set.status();
  REQUIRE(status.size() == 3);
  for (std::size_t i = 0; i < status.size(); ++i) {
    const auto& entry = status[i];
    INFO("member " << entry.name);
    CHECK(entry.name == three.names[i]);
    CHECK_FALSE(entry.acquired);
    CHECK(entry.blocked == (entry.name == busy));
    CHECK(entry.info.name == entry.name);
    if (entry.name != busy) {
      CHECK_FALSE(entry.info.held);
      continue;
    }
    CHECK(entry.info.held);
    CHECK(entry.info.token == holder.token());
    CHECK(entry.info.pid == static_cast<std::int64_t>(::getpid()));
    CHECK_FALSE(entry.info.owner.empty());
    CHECK(entry.info.expires_in > 0ms);
    CHECK(entry.info.expires_in <= 20s);
  }

  holder.release();
  REQUIRE(set.try_acquire());
  for (const auto& entry : set.status()) {
    INFO("member " << entry.name << " once the set holds");
    CHECK(entry.acquired);
    CHECK_FALSE(entry.blocked);
  }
  set.release();
}

TEST_CASE("lock set: names are deduplicated and taken in canonical byte order", "[conformance][lockset][names]") {
  CLAUSE_AT("§1.13", "LockManager::lock_set",
            "duplicates are removed and the names kept sorted by bytes; an empty list or a bad name is InvalidName");
  auto manager = make_manager();
  const auto base = unique_name("set-names");
  const std::vector<std::string> given{base + "\xff", base + "b", base + "B", base + "b", base + "a", base + "\xff"};
  auto set = manager.lock_set(given);
  const std::vector<std::string> expected{base + "B", base + "a", base + "b", base + "\xff"};
  CHECK(set.names() == expected);
  REQUIRE(set.try_acquire());
  for (const auto& n : expected) CHECK(manager.inspect(n).held);
  CHECK(set.tokens().size() == expected.size());
  set.release();

  CHECK_THROWS_AS(manager.lock_set({}), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock_set({base + "ok", ""}), baton::InvalidName);
  CHECK_THROWS_AS(manager.lock_set({base + "ok", std::string(1025, 'x')}), baton::InvalidName);
}

TEST_CASE("lock set: tokens are the members' fencing tokens", "[conformance][lockset][tokens]") {
  CLAUSE_AT("§1.13", "LockSet::tokens",
            "tokens() maps each name to its member's grant token, strictly above every earlier token of the name");
  auto manager = make_manager();
  ThreeNames three(manager, "set-tokens");
  std::map<std::string, std::uint64_t> before;
  for (const auto& n : three.names) {
    auto single = manager.lock(n);
    single.acquire();
    before[n] = single.token();
    single.release();
  }
  auto set = manager.lock_set(three.names);
  set.acquire();
  const auto tokens = set.tokens();
  REQUIRE(tokens.size() == 3);
  for (const auto& n : three.names) {
    INFO("member " << n);
    REQUIRE(tokens.count(n) == 1);
    CHECK(tokens.at(n) > before.at(n));
    CHECK(tokens.at(n) == manager.inspect(n).token);
    CHECK(tokens.at(n) == set.member(n)->token());
  }
  set.release();
  for (const auto& [name, token] : set.tokens()) CHECK(token == 0);
}

TEST_CASE("lock set: re-entrant per instance, and the standard lock names work",
          "[conformance][lockset][reentrancy][std]") {
  CLAUSE_AT("§1.13", "LockSet::acquire", "re-acquiring a set that holds raises every member's hold count");
  auto manager = make_manager();
  ThreeNames three(manager, "set-reentry");
  auto set = manager.lock_set(three.names);
  set.acquire();
  const auto tokens = set.tokens();
  CHECK(set.try_acquire());
  CHECK(set.acquire_for(0ms));
  CHECK(set.hold_count() == 3);
  for (const auto& n : three.names) CHECK(set.member(n)->hold_count() == 3);
  CHECK(set.tokens() == tokens);
  set.release();
  set.release();
  CHECK(set.holds());
  for (const auto& n : three.names) CHECK(manager.inspect(n).held);
  set.release();
  CHECK_FALSE(set.holds());
  for (const auto& n : three.names) CHECK_FALSE(manager.inspect(n).held);
  CHECK_THROWS_AS(set.release(), std::logic_error);

  {
    std::scoped_lock guard(set);
    CHECK(set.holds());
  }
  CHECK_FALSE(manager.inspect(three.names[0]).held);
  {
    auto other = manager.lock(three.names[1]);
    other.acquire();
    std::unique_lock<baton::LockSet> guard(set, std::defer_lock);
    CHECK_FALSE(guard.try_lock_for(std::chrono::milliseconds(50)));
    other.release();
    CHECK(guard.try_lock_until(std::chrono::steady_clock::now() + 5s));
    CHECK(set.holds());
  }
  CHECK_FALSE(set.holds());
  for (const auto& n : three.names) CHECK_FALSE(manager.inspect(n).held);
}

TEST_CASE("lock set: losing one member is losing the set, and on_lost names it", "[conformance][lockset][lost]") {
  CLAUSE_AT("§1.13", "LockSet",
            "a member whose lease is found gone makes holds() false and lost() true, on_lost names it, and the "
            "next release() frees the others and throws LockLost naming it");
  auto manager = make_manager();
  ThreeNames three(manager, "set-lost");
  const auto victim = three.names[1];
  std::mutex mu;
  std::vector<std::pair<std::string, std::uint64_t>> calls;
  baton::LockOptions options;
  options.ttl = 900ms;
  options.on_lost = [&](std::string_view name, std::uint64_t token) {
    std::lock_guard guard(mu);
    calls.emplace_back(std::string(name), token);
  };
  auto set = manager.lock_set(three.names, options);
  set.acquire();
  const auto tokens = set.tokens();
  REQUIRE(manager.clear(victim));
  REQUIRE(eventually(5s, [&] {
    std::lock_guard guard(mu);
    return !calls.empty();
  }));
  CHECK(set.lost());
  CHECK_FALSE(set.holds());
  CHECK(set.hold_count() == 0);
  CHECK(set.lost_members() == std::vector<std::string>{victim});
  {
    std::lock_guard guard(mu);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].first == victim);
    CHECK(calls[0].second == tokens.at(victim));
  }
  for (const auto& n : three.names) {
    if (n != victim) CHECK(set.member(n)->holds());
  }
  try {
    set.release();
    FAIL("release() after a member's loss must throw LockLost");
  } catch (const baton::LockLost& e) {
    CHECK(std::string(e.what()).find(victim) != std::string::npos);
  }
  CHECK(set.lost_at_release() == std::vector<std::string>{victim});
  CHECK_FALSE(set.lost());
  for (const auto& n : three.names) CHECK_FALSE(manager.inspect(n).held);

  INFO("a new acquire after a loss takes every member afresh");
  set.acquire();
  set.acquire();
  REQUIRE(manager.clear(victim));
  REQUIRE(eventually(5s, [&] { return set.lost(); }));
  REQUIRE(set.acquire_for(5s));
  CHECK(set.holds());
  CHECK(set.hold_count() == 1);
  for (const auto& [name, token] : set.tokens()) CHECK(token > tokens.at(name));
  set.release();
  for (const auto& n : three.names) CHECK_FALSE(manager.inspect(n).held);
}

TEST_CASE("lock set: sets over overlapping names taken in opposite orders by processes never deadlock",
          "[conformance][lockset][exclusion][process]") {
  CLAUSE_AT("§1.13", "LockSet::acquire",
            "sets over overlapping names, given in any order in different processes, all finish (canonical order), "
            "and each name is held by one set at a time (no lost increment)");
  TempDir dir;
  const auto base = unique_name("set-cycle");
  const auto a = base + "-a";
  const auto b = base + "-b";
  const auto c = base + "-c";
  // 0 and 1 give the same names in opposite orders; 2, 3 and 4, taken in
  // the order given, would form the three-way cycle a->b, b->c, c->a.
  const std::vector<std::vector<std::string>> sets{{a, b, c}, {c, b, a}, {a, b}, {b, c}, {c, a}};
  constexpr int iterations = 20;
  std::vector<Helper> helpers;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    std::vector<std::string> args{dir.path().string(), std::to_string(iterations), std::to_string(i)};
    args.insert(args.end(), sets[i].begin(), sets[i].end());
    helpers.emplace_back("set_counter", std::move(args));
    REQUIRE(wait_for_file(dir / ("ready-" + std::to_string(i)), 20s));
  }
  write_file(dir / "go", "");
  check_all_exit_0(helpers, 90s);
  for (const auto& name : {a, b, c}) {
    const auto uses = std::count_if(sets.begin(), sets.end(), [&](const auto& s) {
      return std::find(s.begin(), s.end(), name) != s.end();
    });
    INFO("name " << name << " is in " << uses << " sets");
    const auto text = read_file(dir / ("counter-" + name));
    REQUIRE(text.has_value());
    CHECK(std::stol(*text) == uses * iterations);
  }
}

TEST_CASE("lock set: renewals keep every member of a short-lease set", "[conformance][lockset][ttl]") {
  CLAUSE_AT("§1.13", "LockSet", "the manager renews every member's lease while the set holds");
  auto manager = make_manager();
  ThreeNames three(manager, "set-renew");
  baton::LockOptions options;
  options.ttl = 600ms;
  auto set = manager.lock_set(three.names, options);
  set.acquire();
  const auto tokens = set.tokens();
  std::this_thread::sleep_for(2s);
  CHECK(set.holds());
  CHECK_FALSE(set.lost());
  for (const auto& n : three.names) {
    const auto info = manager.inspect(n);
    CHECK(info.held);
    CHECK(info.token == tokens.at(n));
  }
  set.release();
}
