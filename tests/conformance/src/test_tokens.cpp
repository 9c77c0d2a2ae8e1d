// docs/design.md §1.7 fencing tokens.
#include <catch2/catch.hpp>

#include "baton/error.hpp"
#include "clause.hpp"
#include "preconditions.hpp"
#include "support.hpp"

namespace baton::conformance::detail {
void anchor_tokens() {}
}  // namespace baton::conformance::detail

using namespace baton::conformance::detail;

TEST_CASE("fencing tokens strictly increase across grants, instances, processes, expiry, clear and restart",
          "[conformance][tokens][process][slow]") {
  CLAUSE_AT("§1.7", "BackendLock::acquire, BackendLock::try_acquire",
            "every grant (not every re-entry) carries a token strictly greater than every earlier token of the "
            "name; never reused after an expiry, an admin clear or a client restart");
  const auto name = unique_name("tokens");
  std::uint64_t last = 0;
  int grants = 0;
  auto next = [&](std::uint64_t token, const char* what) {
    INFO("grant " << grants << " (" << what << "): token " << token << " after " << last);
    CHECK(token > last);
    last = token;
    ++grants;
  };
  // One grant, and its release, on a new backend object and manager.
  auto grant_on_new_manager = [&](const char* what) {
    auto manager = make_manager();
    auto lock = manager.lock(name);
    INFO("grant on a new manager (" << what << "): the free lock must be granted within 2 s");
    REQUIRE(lock.acquire_for(2s));
    next(lock.token(), what);
    lock.release();
  };

  {
    auto manager = make_manager();
    auto a = manager.lock(name);
    auto b = manager.lock(name);

    a.acquire();
    next(a.token(), "first");
    a.acquire();
    {
      CLAUSE("§1.2", "re-entry is not a grant: the token stays");
      CHECK(a.token() == last);
      a.release();
      CHECK(a.token() == last);
    }
    a.release();
    a.acquire();
    next(a.token(), "same instance again");
    a.release();
    {
      INFO("the free lock must be granted to another instance");
      REQUIRE(b.try_acquire());
    }
    next(b.token(), "another instance");
    b.release();

    // Another backend object and manager in this process.
    grant_on_new_manager("another manager");

    // Another process.
    {
      TempDir dir;
      Helper helper("wait", {name, dir.path().string(), "0", "10000", "release"});
      const auto rc = helper.wait_exit(20s);
      INFO("a helper process " << helper.description() << " takes and releases the free lock, and exits 0");
      REQUIRE(rc.has_value());
      REQUIRE(*rc == 0);
      const auto lines = read_lines(dir / "order");
      REQUIRE(lines.size() == 1);
      next(std::stoull(field(lines[0], "token")), "another process");
    }

    // After an expiry.
    {
      auto e = manager.lock(name, {.ttl = 1000ms, .auto_renew = false});
      e.acquire();
      next(e.token(), "before expiry");
      {
        CLAUSE("§1.5", "a 1000 ms lease that is not renewed ends; a waiter is granted the lock within 4 s");
        REQUIRE(b.acquire_for(4s));
      }
      next(b.token(), "after expiry");
      {
        CLAUSE("§1.8", "the expired holder's release() reports the loss");
        CHECK_THROWS_AS(e.release(), baton::LockLost);
      }
      b.release();
    }

    // After a clear.
    a.acquire();
    next(a.token(), "before clear");
    {
      CLAUSE_AT("§1.10", "Backend::clear", "clear() frees a held lock and says so; another instance then takes it");
      REQUIRE(manager.clear(name));
      REQUIRE(b.acquire_for(2s));
    }
    next(b.token(), "after clear");
    {
      CLAUSE("§1.10", "the cleared holder's release() reports the loss (§1.8)");
      CHECK_THROWS_AS(a.release(), baton::LockLost);
    }
    b.release();
  }

  // After a restart of the client: every backend object and manager gone.
  grant_on_new_manager("after restart");
}

TEST_CASE("fencing tokens of queued waiters increase in grant order", "[conformance][tokens]") {
  CLAUSE_AT("§1.7", "BackendLock::acquire", "the tokens of queued waiters strictly increase in grant order");
  auto manager = make_manager();
  const auto name = unique_name("tokens-queue");
  auto holder = manager.lock(name);
  holder.acquire();
  std::vector<baton::Lock> locks;
  for (int i = 0; i < 4; ++i) locks.push_back(manager.lock(name));
  std::vector<std::unique_ptr<ThreadWaiter>> waiters;
  for (int i = 0; i < 4; ++i) {
    waiters.push_back(std::make_unique<ThreadWaiter>(locks[i], 20s, [](baton::Lock& l) { l.release(); }));
    require_waiter_count(manager, name, static_cast<std::size_t>(i + 1));
  }
  std::uint64_t last = holder.token();
  holder.release();
  for (int i = 0; i < 4; ++i) {
    INFO("waiter " << i << " must be granted the lock in turn; " << waiters[i]->error());
    REQUIRE(waiters[i]->result(10s) == std::optional<bool>(true));
    CHECK(waiters[i]->token() > last);
    last = waiters[i]->token();
  }
}
