// TransactionLock and SessionLock: advisory locks on a caller's own libpq
// connection (docs/design.md §4.7), against the server $BATON_TEST_PG_DSN
// names. Each check looks from outside, through a baton::Lock of the same
// name on another session.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "baton/error.hpp"
#include "baton/postgres_connection_locks.hpp"
#include "pg_session.hpp"
#include "test_support.hpp"

using namespace baton::test;
using baton::postgres::SessionLock;
using baton::postgres::TransactionLock;
using namespace std::chrono_literals;

namespace {

std::string fresh_name() { return "conn-lock-" + random_hex(); }

// Whether a baton::Lock of `name` on a session of its own can take it now.
bool free_for_baton(const std::string& name) {
  auto m = manager();
  auto lock = m.lock(name);
  if (!lock.try_acquire()) return false;
  lock.release();
  return true;
}

}  // namespace

TEST_CASE("TransactionLock is held until COMMIT or ROLLBACK, and excludes a baton::Lock of the name",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  TransactionLock lock(s.conn, name);
  const std::string end = GENERATE("COMMIT", "ROLLBACK");
  REQUIRE(s.exec("BEGIN"));
  lock.acquire();
  CHECK_FALSE(free_for_baton(name));
  CHECK(s.value("SELECT 1") == "1");  // the lock's statements left the transaction usable
  CHECK_FALSE(free_for_baton(name));
  REQUIRE(s.exec(end));
  CHECK(free_for_baton(name));
}

TEST_CASE("TransactionLock outside a transaction is an error, not a lock that ends at once",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  TransactionLock lock(s.conn, fresh_name());
  CHECK_THROWS_WITH(lock.acquire(), Catch::Contains("not in a transaction"));
  CHECK_THROWS_AS(lock.try_acquire(), std::logic_error);
  CHECK_THROWS_AS(lock.acquire_for(100ms), std::logic_error);
  REQUIRE(s.exec("BEGIN"));
  REQUIRE_FALSE(s.exec("SELECT 1/0"));
  CHECK_THROWS_AS(lock.acquire(), baton::BackendError);  // an aborted transaction
  CHECK_THROWS_WITH(lock.acquire(), Catch::Contains("failed"));
  REQUIRE(s.exec("ROLLBACK"));
  CHECK_THROWS_AS(TransactionLock(s.conn, ""), baton::InvalidName);
}

TEST_CASE("TransactionLock::acquire_for runs out with the transaction usable and lock_timeout as it was",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  auto m = manager();
  auto holder = m.lock(name);
  REQUIRE(holder.try_acquire());
  TransactionLock lock(s.conn, name);
  REQUIRE(s.exec("BEGIN"));
  REQUIRE(s.exec("SET LOCAL lock_timeout = '7s'"));
  CHECK_FALSE(lock.try_acquire());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(lock.acquire_for(300ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
  CHECK(PQtransactionStatus(s.conn) == PQTRANS_INTRANS);
  CHECK(s.value("SHOW lock_timeout") == "7s");
  holder.release();
  CHECK(lock.acquire_for(5s));  // taken in a savepoint that was released: the transaction holds it
  CHECK(s.value("SHOW lock_timeout") == "7s");
  CHECK_FALSE(free_for_baton(name));
  REQUIRE(s.exec("COMMIT"));
  CHECK(free_for_baton(name));
}

TEST_CASE("SessionLock is re-entrant per instance, outlives a ROLLBACK, and the last release frees it",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  SessionLock lock(s.conn, name);
  lock.acquire();
  CHECK(lock.try_acquire());
  CHECK(lock.hold_count() == 2);
  REQUIRE(s.exec("BEGIN"));
  REQUIRE(s.exec("ROLLBACK"));
  CHECK_FALSE(free_for_baton(name));
  lock.release();
  CHECK(lock.holds());
  CHECK_FALSE(free_for_baton(name));
  lock.release();
  CHECK_FALSE(lock.holds());
  CHECK(free_for_baton(name));
  CHECK_THROWS_AS(lock.release(), std::logic_error);
}

TEST_CASE("SessionLock::acquire_for runs out leaving the session as it was, in or out of a transaction",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  auto m = manager();
  auto holder = m.lock(name);
  REQUIRE(holder.try_acquire());
  SessionLock lock(s.conn, name);
  const bool in_transaction = GENERATE(false, true);
  if (in_transaction) REQUIRE(s.exec("BEGIN"));
  const std::string before = s.value("SHOW lock_timeout");
  CHECK_FALSE(lock.acquire_for(200ms));
  CHECK_FALSE(lock.holds());
  CHECK(PQtransactionStatus(s.conn) == (in_transaction ? PQTRANS_INTRANS : PQTRANS_IDLE));
  CHECK(s.value("SHOW lock_timeout") == before);
  holder.release();
  CHECK(lock.acquire_for(5s));
  CHECK(PQtransactionStatus(s.conn) == (in_transaction ? PQTRANS_INTRANS : PQTRANS_IDLE));
  CHECK(s.value("SHOW lock_timeout") == before);
  if (in_transaction) REQUIRE(s.exec("ROLLBACK"));
  CHECK_FALSE(free_for_baton(name));  // a session lock outlives the transaction it was taken in
  lock.release();
  CHECK(free_for_baton(name));
}

TEST_CASE("a baton::Lock waiting behind a SessionLock is granted when it is released",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  SessionLock lock(s.conn, name);
  lock.acquire();
  auto m = manager();
  std::atomic<int> granted{-1};
  std::jthread waiter([&] {  // no Catch2 assertions off the main thread
    auto w = m.lock(name);
    granted = w.acquire_for(10s) ? 1 : 0;
  });
  REQUIRE(eventually(5s, [&] { return m.inspect(name).waiters == 1; }));
  CHECK(granted == -1);
  lock.release();
  waiter.join();
  CHECK(granted == 1);
}

TEST_CASE("SessionLock: the destructor frees the lock, a moved-from instance frees nothing, a dropped lock is LockLost",
          "[postgres][connection-locks]") {
  PlainSession s;
  REQUIRE(s.ok());
  const std::string name = fresh_name();
  {
    SessionLock first(s.conn, name);
    first.acquire();
    SessionLock second(std::move(first));
    CHECK_FALSE(first.holds());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK(second.holds());
    CHECK_FALSE(free_for_baton(name));
  }
  CHECK(free_for_baton(name));
  SessionLock lock(s.conn, name);
  lock.acquire();
  REQUIRE(s.value("SELECT pg_advisory_unlock_all()").empty());
  CHECK_THROWS_AS(lock.release(), baton::LockLost);
  CHECK_FALSE(lock.holds());
}
