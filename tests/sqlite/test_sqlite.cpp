// Tests of what is particular to the SQLite backend: its schema, its clock,
// reboots, a busy database, dead waiters and holders, config keys. The lock
// contract itself is the conformance suite's business.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "baton/builtin.hpp"
#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/sqlite.hpp"
#include "raw_sqlite.hpp"
#include "test_support.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using baton::Clock;
using baton::test::RawSqlite;

namespace {

// A waiter row written by hand takes its ticket from the counter, as the
// backend's own do (tickets are the key of baton_waiters in schema version 3).
const std::string next_ticket_sql =
    "UPDATE baton_holders SET token = token + 1 WHERE name = CAST('__baton.ticket' AS BLOB)";
const std::string ticket_sql = "(SELECT token FROM baton_holders WHERE name = CAST('__baton.ticket' AS BLOB))";

// A fresh directory per test, removed afterwards, and the database in it.
struct TempDir : baton::test::TempDir {
  TempDir() : baton::test::TempDir("baton-sqlite") {}
  fs::path db() const { return path() / "baton.db"; }
};

baton::Owner owner(const std::string& id) { return baton::Owner{id, "test-host", static_cast<std::int64_t>(getpid())}; }

baton::sqlite::Options options_for(const fs::path& db) {
  baton::sqlite::Options o;
  o.path = db;
  return o;
}

// A backend on a fresh database (in `dir`), for TEST_CASE_METHOD.
struct FreshDb {
  TempDir dir;
  std::shared_ptr<baton::Backend> backend = baton::sqlite::make_backend(options_for(dir.db()));
};

std::int64_t boottime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

template <class F>
auto elapsed(F&& f) {
  auto start = Clock::now();
  f();
  return Clock::now() - start;
}

// Forks a child that waits for `name` as owner `who` (its own backend on
// `opts`) until `patience` runs out, and writes to `report` what came of it:
// '1' granted and released, 'r' granted but the release failed, '0' gave
// up, 'x' an error. Fork it while this process has no other thread: a fork
// beside a running thread can hang the child under ThreadSanitizer.
pid_t fork_waiter(const baton::sqlite::Options& opts, const char* name, const char* who,
                  std::chrono::milliseconds patience, int report) {
  pid_t child = fork();
  if (child == 0) {
    char got = 'x';
    try {
      auto b = baton::sqlite::make_backend(opts);
      auto lock = b->open(name, owner(who));
      got = lock->acquire(Clock::now() + patience, 30s, {}) ? '1' : '0';
      if (got == '1' && !lock->release()) got = 'r';
    } catch (...) {
    }
    (void)!write(report, &got, 1);
    _exit(0);
  }
  return child;
}

}  // namespace

TEST_CASE_METHOD(FreshDb, "a new database file gets the schema in WAL mode") {
  REQUIRE(fs::exists(dir.db()));
  RawSqlite raw(dir.db());
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  for (const char* table : {"baton_meta", "baton_waiters", "baton_holders"}) {
    CHECK(raw.scalar(std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='") + table + "'") == 1);
  }
  CHECK(raw.text("SELECT value FROM baton_meta WHERE key='schema_version'") == "3");
  CHECK_FALSE(raw.text("SELECT value FROM baton_meta WHERE key='boot_id'").empty());
  CHECK(backend->kind() == "sqlite");
  // Opening again is harmless.
  auto again = baton::sqlite::make_backend(options_for(dir.db()));
  CHECK(again->list().empty());
}

TEST_CASE("opening a set-up file takes no write lock; a file that needs set-up waits for it") {
  // Every `baton run` opens the file: a write transaction there would put
  // each start in line behind every running acquire and release.
  TempDir dir;
  auto opts = options_for(dir.db());
  opts.busy_timeout = 300ms;
  opts.boot_id = "boot-one";
  { auto first = baton::sqlite::make_backend(opts); }
  RawSqlite raw(dir.db());
  raw.exec("BEGIN IMMEDIATE");

  SECTION("ready: opens at once, and reads while the writer goes on") {
    // Waiting for the lock would end in BackendUnavailable after 300 ms.
    auto backend = baton::sqlite::make_backend(opts);
    CHECK_FALSE(backend->inspect("x").held);
    raw.exec("ROLLBACK");
  }
  SECTION("another boot's file: voiding old leases needs the write lock") {
    opts.boot_id = "boot-two";
    CHECK_THROWS_AS(baton::sqlite::make_backend(opts), baton::BackendUnavailable);
    raw.exec("ROLLBACK");
    auto backend = baton::sqlite::make_backend(opts);
    CHECK(RawSqlite(dir.db()).text("SELECT value FROM baton_meta WHERE key='boot_id'") == "boot-two");
  }
  SECTION("a ticket counter deleted by hand is recreated, under the write lock") {
    raw.exec("DELETE FROM baton_holders WHERE name = CAST('__baton.ticket' AS BLOB)");
    raw.exec("COMMIT");
    RawSqlite writer(dir.db());
    writer.exec("BEGIN IMMEDIATE");
    CHECK_THROWS_AS(baton::sqlite::make_backend(opts), baton::BackendUnavailable);
    writer.exec("ROLLBACK");
    auto backend = baton::sqlite::make_backend(opts);
    CHECK(RawSqlite(dir.db()).scalar("SELECT count(*) FROM baton_holders WHERE name = CAST('__baton.ticket' AS BLOB)") == 1);
  }
}

TEST_CASE("a newer schema version is refused, not misread") {
  TempDir dir;
  { auto backend = baton::sqlite::make_backend(options_for(dir.db())); }
  {
    RawSqlite raw(dir.db());
    raw.exec("UPDATE baton_meta SET value='99' WHERE key='schema_version'");
  }
  CHECK_THROWS_AS(baton::sqlite::make_backend(options_for(dir.db())), baton::BackendError);
}

TEST_CASE("a version 1 file keeps its tokens growing when opened by this version") {
  // Version 1 counted tickets in sqlite_sequence; version 2 in a row of
  // baton_holders. A file written by version 1 (made here by hand, with a
  // counter at 5000 and a live grant) must go on above its old tokens.
  TempDir dir;
  {
    RawSqlite raw(dir.db());
    raw.exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE baton_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "CREATE TABLE baton_waiters(ticket INTEGER PRIMARY KEY AUTOINCREMENT, name BLOB NOT NULL, owner TEXT NOT NULL,"
        "  host TEXT NOT NULL, pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
        "  boot_id TEXT NOT NULL, heartbeat_deadline INTEGER NOT NULL);"
        "CREATE INDEX baton_waiters_by_name ON baton_waiters(name, ticket);"
        "CREATE TABLE baton_holders(name BLOB PRIMARY KEY, token INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL,"
        "  pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
        "  boot_id TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;"
        "INSERT INTO sqlite_sequence(name, seq) VALUES('baton_waiters', 5000);"
        "INSERT INTO baton_meta VALUES('schema_version', '1');");
  }
  auto backend = baton::sqlite::make_backend(options_for(dir.db()));
  auto a = backend->open("a", owner("a"));
  auto token = a->try_acquire(30s);
  REQUIRE(token.has_value());
  CHECK(*token == 5001);
  CHECK(a->release());
  RawSqlite raw(dir.db());
  CHECK(raw.text("SELECT value FROM baton_meta WHERE key='schema_version'") == "3");
  // Deleting the counter row by hand loses the count (version 3 keeps no
  // other: version 1's sqlite_sequence goes with its waiters table), so
  // tokens jump 2^32 ahead of the highest the tables still show, as after a
  // reboot, rather than start again.
  raw.exec("DELETE FROM baton_holders");
  token = a->try_acquire(30s);
  REQUIRE(token.has_value());
  CHECK(*token == 1 + (std::uint64_t{1} << 32));
  CHECK(*token > 5001);
  CHECK(a->release());
}

TEST_CASE("a version 2 file is rebuilt as version 3 with its queue in order") {
  // Version 2 kept waiters in a rowid table (AUTOINCREMENT ticket, index on
  // name and ticket); version 3 keys them by (name, ticket). Rows queued in
  // a version 2 file must keep their tickets, so their order and tokens.
  TempDir dir;
  const auto far = std::to_string(boottime_ns() + 600'000'000'000);
  {
    RawSqlite raw(dir.db());
    raw.exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE baton_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "CREATE TABLE baton_waiters(ticket INTEGER PRIMARY KEY AUTOINCREMENT, name BLOB NOT NULL, owner TEXT NOT NULL,"
        "  host TEXT NOT NULL, pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
        "  boot_id TEXT NOT NULL, heartbeat_deadline INTEGER NOT NULL, ttl_ms INTEGER);"
        "CREATE INDEX baton_waiters_by_name ON baton_waiters(name, ticket);"
        "CREATE TABLE baton_holders(name BLOB PRIMARY KEY, token INTEGER NOT NULL, owner TEXT NOT NULL, host TEXT NOT NULL,"
        "  pid INTEGER NOT NULL, proc_pid INTEGER NOT NULL, proc_start INTEGER, pid_ns TEXT NOT NULL,"
        "  boot_id TEXT NOT NULL, acquired_at INTEGER NOT NULL, expires_at INTEGER) WITHOUT ROWID;"
        "INSERT INTO baton_holders VALUES(CAST('__baton.ticket' AS BLOB), 12, '', '', 0, 0, NULL, '', '', 0, NULL);"
        // Two waiters of another host (no pid check), tickets 10 and 11.
        "INSERT INTO baton_waiters VALUES(11, CAST('q' AS BLOB), 'second', 'elsewhere', 1, 1, NULL, 'pid:[elsewhere]',"
        "  'test-boot', " + far + ", 30000);"
        "INSERT INTO baton_waiters VALUES(10, CAST('q' AS BLOB), 'first', 'elsewhere', 1, 1, NULL, 'pid:[elsewhere]',"
        "  'test-boot', " + far + ", 30000);"
        "INSERT INTO baton_meta VALUES('schema_version', '2');"
        "INSERT INTO baton_meta VALUES('boot_id', 'test-boot');");
  }
  auto opts = options_for(dir.db());
  opts.boot_id = "test-boot";
  auto backend = baton::sqlite::make_backend(opts);
  RawSqlite raw(dir.db());
  CHECK(raw.text("SELECT value FROM baton_meta WHERE key='schema_version'") == "3");
  CHECK(raw.scalar("SELECT count(*) FROM pragma_table_info('baton_waiters') WHERE pk > 0") == 2);
  CHECK(raw.scalar("SELECT count(*) FROM sqlite_master WHERE name IN ('baton_waiters_by_name', 'baton_waiters_v2')") == 0);
  CHECK(raw.text("SELECT group_concat(owner || ':' || ticket, ',') FROM (SELECT owner, ticket FROM baton_waiters "
                 "ORDER BY name, ticket)") == "first:10,second:11");
  CHECK(backend->inspect("q").waiters == 2);
  // The queue still stands: nobody jumps it, and new tokens stay above.
  auto late = backend->open("q", owner("late"));
  CHECK_FALSE(late->try_acquire(30s));
  auto other = backend->open("other", owner("other"));
  auto token = other->try_acquire(30s);
  REQUIRE(token.has_value());
  CHECK(*token == 13);
  CHECK(other->release());
  // Opening it again changes nothing.
  auto again = baton::sqlite::make_backend(opts);
  CHECK(again->inspect("q").waiters == 2);
}

TEST_CASE("a path that cannot be opened is BackendUnavailable naming the file") {
  TempDir dir;
  auto bad = dir / "no-such-dir" / "baton.db";
  try {
    baton::sqlite::make_backend(options_for(bad));
    FAIL("no exception");
  } catch (const baton::BackendUnavailable& e) {
    CHECK_THAT(e.what(), Catch::Contains(bad.string()));
  }
}

TEST_CASE("a file that is not a database is BackendError") {
  TempDir dir;
  {
    std::FILE* f = std::fopen(dir.db().c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("this is certainly not an SQLite database, just some text long enough..........", f);
    std::fclose(f);
  }
  CHECK_THROWS_AS(baton::sqlite::make_backend(options_for(dir.db())), baton::BackendError);
}

TEST_CASE("tokens strictly increase across names, deletes, clear and reopen") {
  TempDir dir;
  std::uint64_t last = 0;
  auto expect_greater = [&](std::optional<std::uint64_t> token) {
    REQUIRE(token.has_value());
    CHECK(*token > last);
    last = *token;
  };
  {
    auto backend = baton::sqlite::make_backend(options_for(dir.db()));
    auto a = backend->open("a", owner("owner-a"));
    auto b = backend->open("b", owner("owner-b"));
    expect_greater(a->acquire(Clock::now() + 1s, 30s, {}));
    expect_greater(b->try_acquire(30s));
    CHECK(a->release());
    CHECK(b->release());
    expect_greater(a->try_acquire(30s));
    CHECK(backend->clear("a"));
    CHECK_FALSE(a->release());  // cleared: the old grant is gone
    expect_greater(b->acquire(Clock::now() + 1s, 30s, {}));
    CHECK(b->release());
    // A waiter that timed out consumed a ticket but left no row.
    auto c = backend->open("c", owner("owner-c"));
    auto d = backend->open("c", owner("owner-d"));
    expect_greater(c->acquire(Clock::now() + 1s, 30s, {}));
    CHECK_FALSE(d->acquire(Clock::now() + 50ms, 30s, {}).has_value());
    CHECK(c->release());
  }
  {
    RawSqlite raw(dir.db());
    CHECK(raw.scalar("SELECT count(*) FROM baton_waiters") == 0);
    CHECK(raw.scalar("SELECT count(*) FROM baton_holders WHERE name <> CAST('__baton.ticket' AS BLOB)") == 0);
  }
  auto backend = baton::sqlite::make_backend(options_for(dir.db()));
  auto a = backend->open("a", owner("owner-a2"));
  auto token = a->acquire(Clock::now() + 1s, 30s, {});
  expect_greater(token);
  CHECK(*token < (std::uint64_t{1} << 32));  // same boot: no jump
  CHECK(a->release());
}

TEST_CASE("a simulated reboot voids old leases and moves tokens 2^32 ahead") {
  TempDir dir;
  auto before = options_for(dir.db());
  before.boot_id = "boot-one";
  auto old_backend = baton::sqlite::make_backend(before);
  auto old_lock = old_backend->open("job", owner("old"));
  auto old_token = old_lock->acquire(Clock::now() + 1s, baton::forever, {});
  REQUIRE(old_token.has_value());
  CHECK(old_backend->inspect("job").held);

  auto after = options_for(dir.db());
  after.boot_id = "boot-two";
  auto new_backend = baton::sqlite::make_backend(after);
  CHECK_FALSE(new_backend->inspect("job").held);
  auto new_lock = new_backend->open("job", owner("new"));
  auto new_token = new_lock->try_acquire(30s);
  REQUIRE(new_token.has_value());
  CHECK(*new_token >= *old_token + (std::uint64_t{1} << 32));

  // The old grant is gone for its owner too, and cannot free the new one.
  CHECK_FALSE(old_lock->renew(30s));
  CHECK_FALSE(old_lock->release());
  auto info = new_backend->inspect("job");
  CHECK(info.held);
  CHECK(info.owner == "new");
  CHECK(info.token == *new_token);

  // Another open in the same boot does not jump again.
  auto third = baton::sqlite::make_backend(after);
  CHECK(new_lock->release());
  auto again = third->open("job", owner("third"))->try_acquire(30s);
  REQUIRE(again.has_value());
  CHECK(*again == *new_token + 1);
  RawSqlite raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM baton_holders WHERE name = CAST('__baton.ticket' AS BLOB)") == 1);
}

TEST_CASE_METHOD(FreshDb, "clear removes a lease of any length, and only a live one counts") {
  auto lock = backend->open("c", owner("o"));
  REQUIRE(lock->try_acquire(baton::forever));
  CHECK(backend->clear("c"));
  CHECK_FALSE(backend->clear("c"));
  CHECK_FALSE(lock->renew(30s));
  REQUIRE(lock->try_acquire(50ms));
  std::this_thread::sleep_for(80ms);
  CHECK_FALSE(backend->inspect("c").held);
  CHECK_FALSE(backend->clear("c"));  // expired: nothing live was removed
  CHECK_FALSE(lock->release());
}

TEST_CASE_METHOD(FreshDb, "leases are kept on CLOCK_BOOTTIME, not the wall clock") {
  auto lock = backend->open("clock", owner("o"));
  auto before = boottime_ns();
  REQUIRE(lock->acquire(Clock::now() + 1s, 10s, {}));
  auto after = boottime_ns();
  RawSqlite raw(dir.db());
  auto expires = raw.scalar("SELECT expires_at FROM baton_holders WHERE name = CAST('clock' AS BLOB)");
  // The stored expiry is boottime + ttl in ns, nowhere near wall-clock time
  // (which is ~1.7e18 ns since 1970), so a wall-clock step cannot move it.
  CHECK(expires >= before + 10'000'000'000);
  CHECK(expires <= after + 10'000'000'000);
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  CHECK(std::llabs(expires - (std::int64_t{wall.tv_sec} * 1'000'000'000)) > 1'000'000'000'000LL);
  auto acquired_ms = raw.scalar("SELECT acquired_at FROM baton_holders WHERE name = CAST('clock' AS BLOB)");
  CHECK(std::llabs(acquired_ms - std::int64_t{wall.tv_sec} * 1000) < 5000);  // display only, wall clock

  auto info = backend->inspect("clock");
  CHECK(info.expires_in > 9s);
  CHECK(info.expires_in <= 10s);
  CHECK(lock->renew(baton::forever));
  CHECK(raw.scalar("SELECT expires_at FROM baton_holders WHERE name = CAST('clock' AS BLOB)") == -1);  // NULL: forever
  CHECK(backend->inspect("clock").expires_in == baton::forever);
  CHECK(lock->release());
}

TEST_CASE_METHOD(FreshDb, "an expired lease frees the lock and its owner learns of the loss") {
  auto first = backend->open("lease", owner("first"));
  auto second = backend->open("lease", owner("second"));
  REQUIRE(first->acquire(Clock::now() + 1s, 150ms, {}));
  CHECK_FALSE(second->try_acquire(30s));
  // The waiter is woken by the expiry itself (nobody writes at expiry).
  std::optional<std::uint64_t> got;
  auto waited = elapsed([&] { got = second->acquire(Clock::now() + 2s, 30s, {}); });
  REQUIRE(got);
  CHECK(waited < 1s);
  CHECK_FALSE(first->renew(30s));
  CHECK_FALSE(first->release());
  CHECK(backend->inspect("lease").owner == "second");
  CHECK(second->release());
}

TEST_CASE("a database locked by another writer: waited out, or BackendUnavailable after busy_timeout") {
  TempDir dir;
  auto opts = options_for(dir.db());
  opts.busy_timeout = 300ms;
  auto backend = baton::sqlite::make_backend(opts);
  auto lock = backend->open("busy", owner("o"));

  SECTION("longer than busy_timeout") {
    RawSqlite raw(dir.db());
    raw.exec("BEGIN IMMEDIATE");
    auto took = elapsed([&] {
      try {
        lock->try_acquire(30s);
        FAIL("no exception");
      } catch (const baton::BackendUnavailable& e) {
        CHECK_THAT(e.what(), Catch::Contains(dir.db().string()));
      }
    });
    CHECK(took >= 250ms);
    CHECK(took < 1500ms);
    CHECK_THROWS_AS(backend->clear("busy"), baton::BackendUnavailable);
    // acquire too: its deadline is far, so this is a failure, not a timeout.
    CHECK_THROWS_AS(lock->acquire(Clock::now() + 10s, 30s, {}), baton::BackendUnavailable);
    raw.exec("ROLLBACK");
    CHECK(lock->try_acquire(30s));
    CHECK(lock->release());
  }
  SECTION("shorter than busy_timeout") {
    RawSqlite raw(dir.db());
    raw.exec("BEGIN IMMEDIATE");
    std::thread unlocker([&] {
      std::this_thread::sleep_for(150ms);
      raw.exec("COMMIT");
    });
    std::optional<std::uint64_t> token;
    auto took = elapsed([&] { token = lock->try_acquire(30s); });
    unlocker.join();
    CHECK(token.has_value());
    CHECK(took >= 100ms);
    CHECK(lock->release());
  }
  SECTION("an acquire whose deadline comes first just times out") {
    auto patient = options_for(dir.db());
    patient.busy_timeout = 5s;
    auto patient_backend = baton::sqlite::make_backend(patient);
    auto patient_lock = patient_backend->open("busy", owner("p"));
    RawSqlite raw(dir.db());
    raw.exec("BEGIN IMMEDIATE");
    std::optional<std::uint64_t> token{1};
    auto took = elapsed([&] { token = patient_lock->acquire(Clock::now() + 200ms, 30s, {}); });
    raw.exec("ROLLBACK");
    CHECK_FALSE(token.has_value());
    CHECK(took < 1s);
    CHECK(raw.scalar("SELECT count(*) FROM baton_waiters") == 0);
  }
}

TEST_CASE("a waiter whose heartbeat stopped is pruned, a live one is not") {
  TempDir dir;
  auto opts = options_for(dir.db());
  opts.heartbeat_interval = 50ms;
  opts.boot_id = "test-boot";
  auto backend = baton::sqlite::make_backend(opts);
  auto holder = backend->open("q", owner("holder"));
  REQUIRE(holder->acquire(Clock::now() + 1s, 30s, {}));

  SECTION("stale heartbeat") {
    // A waiter of another host (so no pid check) that stops beating 300 ms
    // from now, queued ahead of `next`.
    RawSqlite raw(dir.db());
    raw.exec(next_ticket_sql);
    raw.exec("INSERT INTO baton_waiters(name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, heartbeat_deadline) "
             "VALUES(CAST('q' AS BLOB), " + ticket_sql + ", 'ghost', 'elsewhere', 1, 1, NULL, 'pid:[elsewhere]', 'test-boot', " +
             std::to_string(boottime_ns() + 300'000'000) + ")");
    CHECK(backend->inspect("q").waiters == 1);
    CHECK(holder->release());
    auto next = backend->open("q", owner("next"));
    CHECK_FALSE(next->try_acquire(30s));  // never jumps the queue
    std::optional<std::uint64_t> got;
    auto took = elapsed([&] { got = next->acquire(Clock::now() + 3s, 30s, {}); });
    REQUIRE(got);
    CHECK(took > 150ms);
    CHECK(took < 1s);
    CHECK(raw.scalar("SELECT count(*) FROM baton_waiters WHERE owner='ghost'") == 0);
    CHECK(next->release());
  }
  SECTION("a dead process is dead at once, heartbeat or not") {
    pid_t child = fork();
    if (child == 0) _exit(0);
    REQUIRE(child > 0);
    waitpid(child, nullptr, 0);
    std::string ns;
    {
      char buffer[256];
      auto n = readlink("/proc/self/ns/pid", buffer, sizeof buffer);
      REQUIRE(n > 0);
      ns.assign(buffer, static_cast<std::size_t>(n));
    }
    RawSqlite raw(dir.db());
    raw.exec(next_ticket_sql);
    raw.exec("INSERT INTO baton_waiters(name, ticket, owner, host, pid, proc_pid, proc_start, pid_ns, boot_id, heartbeat_deadline) "
             "VALUES(CAST('q' AS BLOB), " + ticket_sql + ", 'gone', 'test-host', " + std::to_string(child) + ", " + std::to_string(child) +
             ", NULL, '" + ns + "', 'test-boot', " + std::to_string(boottime_ns() + 60'000'000'000) + ")");
    CHECK(backend->inspect("q").waiters == 0);
    CHECK(holder->release());
    auto next = backend->open("q", owner("next"));
    CHECK(next->try_acquire(30s));
    CHECK(next->release());
  }
  SECTION("a live waiter keeps its place past three heartbeat intervals") {
    auto waiter = backend->open("q", owner("waiter"));
    std::optional<std::uint64_t> got;
    std::thread t([&] { got = waiter->acquire(Clock::now() + 5s, 30s, {}); });
    std::this_thread::sleep_for(400ms);
    CHECK(backend->inspect("q").waiters == 1);
    CHECK(holder->release());
    t.join();
    CHECK(got.has_value());
    CHECK(waiter->release());
  }
}

TEST_CASE("a SIGKILLed holder on this host frees the lock at once") {
  TempDir dir;
  auto opts = options_for(dir.db());
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t child = fork();
  if (child == 0) {
    try {
      auto backend = baton::sqlite::make_backend(opts);
      auto lock = backend->open("killed", owner("child"));
      char ok = lock->acquire(Clock::now() + 5s, 60s, {}) ? '1' : '0';
      (void)!write(ready[1], &ok, 1);
      pause();
    } catch (...) {
    }
    _exit(1);
  }
  REQUIRE(child > 0);
  close(ready[1]);
  char ok = 0;
  REQUIRE(read(ready[0], &ok, 1) == 1);
  close(ready[0]);
  REQUIRE(ok == '1');
  auto backend = baton::sqlite::make_backend(opts);
  auto lock = backend->open("killed", owner("parent"));
  CHECK_FALSE(lock->try_acquire(30s));
  kill(child, SIGKILL);
  // Not reaped yet: a zombie counts as dead too.
  std::optional<std::uint64_t> got;
  auto took = elapsed([&] { got = lock->acquire(Clock::now() + 5s, 30s, {}); });
  waitpid(child, nullptr, 0);
  REQUIRE(got);
  CHECK(took < 1s);  // not the 60 s lease
  CHECK(lock->release());
}

TEST_CASE_METHOD(FreshDb, "a timed-out or stopped acquire leaves no row") {
  auto holder = backend->open("t", owner("holder"));
  auto waiter = backend->open("t", owner("waiter"));
  REQUIRE(holder->acquire(Clock::now() + 1s, 30s, {}));
  auto took = elapsed([&] { CHECK_FALSE(waiter->acquire(Clock::now() + 100ms, 30s, {})); });
  CHECK(took >= 100ms);
  CHECK(took < 400ms);
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  took = elapsed([&] { CHECK_FALSE(waiter->acquire(Clock::now() + 10s, 30s, stop.get_token())); });
  stopper.join();
  CHECK(took < 1s);
  RawSqlite raw(dir.db());
  CHECK(raw.scalar("SELECT count(*) FROM baton_waiters") == 0);
  CHECK(backend->inspect("t").waiters == 0);
  CHECK(holder->release());
}

TEST_CASE("waiters that post their row: one that gives up or dies leaves nothing behind") {
  // With a waiter queued already, the next one posts its row in the wake
  // file for the releaser to insert (join_requests.hpp) instead of
  // writing it. Whatever becomes of such a waiter, the queue must end up as
  // if it had written its row itself. Waiters are child processes, forked
  // before this process has any other thread (a fork beside a running
  // thread can hang the child under ThreadSanitizer).
  TempDir dir;
  auto opts = options_for(dir.db());
  // No heartbeat (which also takes up posted requests) within the test.
  opts.heartbeat_interval = 20s;
  auto backend = baton::sqlite::make_backend(opts);
  auto holder = backend->open("j", owner("holder"));
  REQUIRE(holder->acquire(Clock::now() + 1s, 30s, {}));
  RawSqlite raw(dir.db());
  const auto waiter = [&](const char* who, std::chrono::milliseconds patience, int report) {
    return fork_waiter(opts, "j", who, patience, report);
  };
  const auto waiters_become = [&](std::size_t n) {
    for (int i = 0; i < 500 && backend->inspect("j").waiters != n; ++i) std::this_thread::sleep_for(10ms);
    return backend->inspect("j").waiters;
  };
  const auto read_report = [](int fd) {
    char got = 0;
    return read(fd, &got, 1) == 1 ? got : '?';
  };
  int first_report[2];
  REQUIRE(pipe(first_report) == 0);
  const pid_t first = waiter("first", 20s, first_report[1]);
  REQUIRE(first > 0);
  for (int i = 0; i < 500 && raw.scalar("SELECT count(*) FROM baton_waiters") != 1; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(raw.scalar("SELECT count(*) FROM baton_waiters") == 1);

  SECTION("gives up while posted, or after it wrote its row") {
    // 20 ms: before it would write its row itself (50 ms); 300 ms: after.
    for (auto patience : {20ms, 300ms}) {
      INFO("patience " << patience.count() << " ms");
      int report[2];
      REQUIRE(pipe(report) == 0);
      const pid_t quitter = waiter("quitter", patience, report[1]);
      REQUIRE(quitter > 0);
      CHECK(read_report(report[0]) == '0');
      waitpid(quitter, nullptr, 0);
      close(report[0]);
      close(report[1]);
      CHECK(raw.scalar("SELECT count(*) FROM baton_waiters WHERE owner = 'quitter'") == 0);
      CHECK(backend->inspect("j").waiters == 1);
    }
  }
  SECTION("is killed while posted") {
    int report[2];
    REQUIRE(pipe(report) == 0);
    const pid_t doomed = waiter("doomed", 30s, report[1]);
    REQUIRE(doomed > 0);
    CHECK(waiters_become(2) == 2);
    kill(doomed, SIGKILL);
    waitpid(doomed, nullptr, 0);
    CHECK(waiters_become(1) == 1);
    close(report[0]);
    close(report[1]);
  }

  // The first waiter gets the lock, and after it nobody is in line: a dead
  // or departed waiter's request (or row) is no waiter.
  CHECK(holder->release());
  CHECK(read_report(first_report[0]) == '1');
  waitpid(first, nullptr, 0);
  close(first_report[0]);
  close(first_report[1]);
  auto next = backend->open("j", owner("next"));
  CHECK(next->try_acquire(30s));
  CHECK(backend->inspect("j").waiters == 0);
  CHECK(next->release());
}

TEST_CASE("a release hands the lock to the first waiter and one that gave up passes it on") {
  // The waiter is a child process, stopped (SIGSTOP) while queued, so the
  // release finds it asleep: the grant is made for it (inspect names it)
  // without its doing anything.
  TempDir dir;
  auto opts = options_for(dir.db());
  auto backend = baton::sqlite::make_backend(opts);
  auto holder = backend->open("h", owner("holder"));
  REQUIRE(holder->acquire(Clock::now() + 1s, 30s, {}));
  const auto queued = [&](std::size_t n) {
    for (int i = 0; i < 500 && backend->inspect("h").waiters != n; ++i) std::this_thread::sleep_for(10ms);
    return backend->inspect("h").waiters == n;
  };
  int result[2];
  REQUIRE(pipe(result) == 0);
  // deadline_ms: how long the child waits (see fork_waiter()).
  const auto start_child = [&](int deadline_ms) {
    pid_t child = fork_waiter(opts, "h", "child", std::chrono::milliseconds(deadline_ms), result[1]);
    REQUIRE(child > 0);
    return child;
  };
  char got = 0;

  SECTION("the stopped waiter finds its grant when it resumes") {
    pid_t child = start_child(20'000);
    REQUIRE(queued(1));
    kill(child, SIGSTOP);
    CHECK(holder->release());
    auto info = backend->inspect("h");
    CHECK(info.held);
    CHECK(info.owner == "child");  // granted while it sleeps
    CHECK(info.waiters == 0);
    kill(child, SIGCONT);
    REQUIRE(read(result[0], &got, 1) == 1);
    CHECK(got == '1');
    waitpid(child, nullptr, 0);
  }
  SECTION("a waiter whose deadline passed while it was handed the lock passes it on") {
    pid_t child = start_child(800);
    REQUIRE(queued(1));
    kill(child, SIGSTOP);
    // Queued behind the child.
    auto next = backend->open("h", owner("next"));
    std::optional<std::uint64_t> next_got;
    std::thread t([&] { next_got = next->acquire(Clock::now() + 20s, 30s, {}); });
    REQUIRE(queued(2));
    CHECK(holder->release());
    CHECK(backend->inspect("h").owner == "child");
    std::this_thread::sleep_for(1s);  // past the child's deadline
    kill(child, SIGCONT);
    REQUIRE(read(result[0], &got, 1) == 1);
    CHECK(got == '0');  // it gave up, as asked, and left no trace...
    waitpid(child, nullptr, 0);
    t.join();  // ...but handed the lock to the next in line
    REQUIRE(next_got.has_value());
    CHECK(backend->inspect("h").owner == "next");
    CHECK(next->release());
    RawSqlite raw(dir.db());
    CHECK(raw.scalar("SELECT count(*) FROM baton_waiters") == 0);
  }
  close(result[0]);
  close(result[1]);
}

TEST_CASE("hand-off between waiters is FIFO and never stalls") {
  TempDir dir;
  const fs::path wake_file = dir.db().string() + "-wake";
  bool woken = true;
  SECTION("woken through the wake file") {}
  SECTION("polling only, when the wake file cannot be made") {
    // A directory where the file should be: open() fails, the backend polls.
    fs::create_directory(wake_file);
    woken = false;
  }
  auto backend = baton::sqlite::make_backend(options_for(dir.db()));
  CHECK(fs::is_regular_file(wake_file) == woken);
  auto holder = backend->open("f", owner("holder"));
  REQUIRE(holder->acquire(Clock::now() + 1s, 30s, {}));
  constexpr int n = 4;
  std::vector<std::unique_ptr<baton::BackendLock>> locks;
  for (int i = 0; i < n; ++i) locks.push_back(backend->open("f", owner("w" + std::to_string(i))));
  std::vector<int> order;
  std::mutex mu;
  std::vector<std::thread> threads;
  // Catch2 assertions are not thread-safe: threads record, the test thread
  // asserts.
  std::atomic<int> failures{0};
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      auto token = locks[i]->acquire(Clock::now() + 10s, 30s, {});
      if (!token) {
        ++failures;
        return;
      }
      {
        std::lock_guard g(mu);
        order.push_back(i);
      }
      std::this_thread::sleep_for(5ms);
      if (!locks[i]->release()) ++failures;
    });
    // Let each waiter reach the queue before the next.
    auto deadline = Clock::now() + 2s;
    while (backend->inspect("f").waiters < static_cast<std::size_t>(i + 1) && Clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }
  auto took = elapsed([&] {
    CHECK(holder->release());
    for (auto& t : threads) t.join();
  });
  CHECK(failures == 0);
  CHECK(order == std::vector<int>{0, 1, 2, 3});
  // A liveness bound (nobody stalls for a heartbeat or a lease), not a
  // performance figure: bench/ measures the hand-off.
  CHECK(took < 5s);
}

TEST_CASE_METHOD(FreshDb, "names are bytes: NUL, quotes, % and * are used verbatim") {
  const std::vector<std::string> names = {
      std::string("a\0b", 3), std::string("a\0c", 3), "a", "'; DROP TABLE baton_holders; --",
      "%", "*", "a%", "\"quoted\" name", std::string(1024, 'x'), "\xff\xfe not utf-8"};
  std::vector<std::unique_ptr<baton::BackendLock>> locks;
  std::set<std::uint64_t> tokens;
  for (const auto& name : names) {
    locks.push_back(backend->open(name, owner("o")));
    auto token = locks.back()->try_acquire(30s);
    INFO("name #" << locks.size());
    REQUIRE(token);  // none of them collides with another
    tokens.insert(*token);
  }
  CHECK(tokens.size() == names.size());
  for (const auto& name : names) {
    auto info = backend->inspect(name);
    CHECK(info.held);
    CHECK(info.name == name);
  }
  CHECK_FALSE(backend->inspect(std::string("a\0", 2)).held);
  CHECK_FALSE(backend->inspect("a_").held);
  auto listed = backend->list();
  std::set<std::string> got;
  for (const auto& info : listed) got.insert(info.name);
  CHECK(got == std::set<std::string>(names.begin(), names.end()));
  CHECK(backend->clear(std::string("a\0b", 3)));
  CHECK(backend->inspect("a").held);
  CHECK(backend->inspect(std::string("a\0c", 3)).held);
}

TEST_CASE("config keys, and errors that name them") {
  using baton::sqlite::options_from_config;
  auto o = options_from_config({{"path", "/tmp/x.db"}, {"busy_timeout_ms", 500}, {"heartbeat_ms", 100}, {"poll_ms", 1}});
  CHECK(o.path == "/tmp/x.db");
  CHECK(o.busy_timeout == 500ms);
  CHECK(o.heartbeat_interval == 100ms);
  CHECK(o.poll_interval == 1ms);
  CHECK(options_from_config(nlohmann::json::object()).path == "baton.db");

  auto key_of = [](const nlohmann::json& section) -> std::string {
    try {
      options_from_config(section);
    } catch (const baton::ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(e.key()));
      return e.key();
    }
    return "<no error>";
  };
  CHECK(key_of({{"pathh", "x"}}) == "sqlite.pathh");
  CHECK(key_of({{"path", 3}}) == "sqlite.path");
  CHECK(key_of({{"path", ""}}) == "sqlite.path");
  CHECK(key_of({{"busy_timeout_ms", "soon"}}) == "sqlite.busy_timeout_ms");
  CHECK(key_of({{"heartbeat_ms", -1}}) == "sqlite.heartbeat_ms");
  CHECK(key_of({{"poll_ms", 1e9}}) == "sqlite.poll_ms");
}

TEST_CASE("the registry builds it by name, and LockManager works on it") {
  TempDir dir;
  baton::Registry registry;
  baton::sqlite::register_backend(registry);
  CHECK(registry.contains("sqlite"));
  baton::register_builtin_backends();
  CHECK(baton::Registry::global().contains("sqlite"));
  CHECK(baton::Registry::global().default_backend() == "sqlite");
  auto backend = registry.make("sqlite", {{"path", dir.db().string()}});
  CHECK(backend->kind() == "sqlite");

  auto manager = baton::LockManager::from_json(
      {{"backend", "sqlite"}, {"sqlite", {{"path", dir.db().string()}, {"heartbeat_ms", 200}}}});
  auto lock = manager.lock("via-manager");
  lock.acquire();
  CHECK(lock.token() > 0);
  auto info = manager.inspect("via-manager");
  CHECK(info.held);
  CHECK(info.pid == getpid());
  lock.release();
  CHECK_FALSE(manager.inspect("via-manager").held);
}

TEST_CASE_METHOD(FreshDb, "renew_batch extends every lease in one go and reports a cleared grant lost alone") {
  std::vector<std::unique_ptr<baton::BackendLock>> locks;
  for (int i = 0; i < 3; ++i) {
    locks.push_back(backend->open("batch-" + std::to_string(i), owner("o" + std::to_string(i))));
    REQUIRE(locks.back()->try_acquire(2s));
  }
  REQUIRE(backend->clear("batch-1"));
  std::vector<baton::Renewal> batch;
  for (auto& lock : locks) batch.push_back(baton::Renewal{lock.get(), 60s});
  backend->renew_batch(batch);
  CHECK(batch[0].result == baton::RenewResult::renewed);
  CHECK(batch[1].result == baton::RenewResult::lost);
  CHECK(batch[2].result == baton::RenewResult::renewed);
  // Extended from 2 s to a minute; the cleared name stays free.
  CHECK(backend->inspect("batch-0").expires_in > 30s);
  CHECK(backend->inspect("batch-2").expires_in > 30s);
  CHECK_FALSE(backend->inspect("batch-1").held);
  CHECK(locks[0]->release());
  CHECK_FALSE(locks[1]->release());
  CHECK(locks[2]->release());
}
