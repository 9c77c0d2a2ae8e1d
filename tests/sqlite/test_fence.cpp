// Tests of baton::sqlite::fence(): the check of fencing tokens at the
// resource, in the writer's own SQLite transaction.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/sqlite.hpp"
#include "baton/sqlite_fence.hpp"
#include "raw_sqlite.hpp"
#include "test_support.hpp"

using namespace baton::test;
namespace fs = std::filesystem;

namespace {

// fence() in a transaction of its own on `db`, committed when admitted and
// rolled back when not.
void fenced(RawSqlite& db, std::string_view resource, std::uint64_t token) {
  db.exec("BEGIN IMMEDIATE");
  try {
    baton::sqlite::fence(db.db, resource, token);
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
  db.exec("COMMIT");
}

struct Fresh {
  TempDir dir{"baton-fence"};
  RawSqlite db{dir / "data.db"};
};

}  // namespace

TEST_CASE_METHOD(Fresh, "the first write of a resource is admitted, and its token recorded") {
  fenced(db, "r", 5);
  CHECK(db.text("SELECT token FROM baton_fences WHERE resource = 'r'") == "5");
}

TEST_CASE_METHOD(Fresh, "an equal token is admitted: one holder writes twice") {
  fenced(db, "r", 5);
  CHECK_NOTHROW(fenced(db, "r", 5));
  CHECK(db.text("SELECT token FROM baton_fences WHERE resource = 'r'") == "5");
}

TEST_CASE_METHOD(Fresh, "a higher token is admitted and becomes the highest") {
  fenced(db, "r", 5);
  fenced(db, "r", 9);
  CHECK(db.text("SELECT token FROM baton_fences WHERE resource = 'r'") == "9");
}

TEST_CASE_METHOD(Fresh, "a lower token raises StaleToken naming resource, token and highest") {
  fenced(db, "r", 9);
  try {
    fenced(db, "r", 5);
    FAIL("a lower token was admitted");
  } catch (const baton::StaleToken& stale) {
    CHECK(stale.resource() == "r");
    CHECK(stale.token() == 5);
    CHECK(stale.highest() == 9);
    CHECK(std::string(stale.what()).find("'r'") != std::string::npos);
  }
  CHECK(db.text("SELECT token FROM baton_fences WHERE resource = 'r'") == "9");
  // Resources are fenced independently; the empty name is one too.
  CHECK_NOTHROW(fenced(db, "other", 1));
  CHECK_NOTHROW(fenced(db, std::string_view(), 3));
  CHECK_THROWS_AS(fenced(db, "", 2), baton::StaleToken);
}

TEST_CASE_METHOD(Fresh, "StaleToken is a baton::Error") {
  fenced(db, "r", 9);
  CHECK_THROWS_AS(fenced(db, "r", 8), baton::Error);
}

TEST_CASE_METHOD(Fresh, "outside a transaction fence() is a logic_error and writes nothing") {
  CHECK_THROWS_AS(baton::sqlite::fence(db.db, "r", 5), std::logic_error);
  CHECK(db.text("SELECT count(*) FROM sqlite_master WHERE name = 'baton_fences'") == "0");
}

TEST_CASE_METHOD(Fresh, "token 0 (a lock that holds nothing) is refused") {
  db.exec("BEGIN IMMEDIATE");
  CHECK_THROWS_AS(baton::sqlite::fence(db.db, "r", 0), std::invalid_argument);
  db.exec("ROLLBACK");
}

TEST_CASE_METHOD(Fresh, "a refused write rolls back with the caller's transaction") {
  db.exec("CREATE TABLE data(v TEXT)");
  fenced(db, "r", 9);
  db.exec("BEGIN IMMEDIATE");
  db.exec("INSERT INTO data VALUES('late')");
  CHECK_THROWS_AS(baton::sqlite::fence(db.db, "r", 3), baton::StaleToken);
  db.exec("ROLLBACK");
  CHECK(db.text("SELECT count(*) FROM data") == "0");
}

// 8 threads, each on its own connection, fence random tokens and journal
// each admitted one in the same transaction. In commit order (the journal's
// rowid), admitted tokens never decrease, and every refusal names a highest
// above its token.
TEST_CASE_METHOD(Fresh, "concurrent fences from 8 threads never admit a lower token after a higher one") {
  db.exec("CREATE TABLE journal(token INTEGER NOT NULL)");
  constexpr int threads = 8;
  constexpr int rounds = 150;
  std::vector<int> refused(threads, 0);
  std::vector<int> bad_refusals(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      RawSqlite mine(dir / "data.db");
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      std::uniform_int_distribution<std::uint64_t> pick(1, 1000);
      for (int i = 0; i < rounds; ++i) {
        const std::uint64_t token = pick(rng);
        if (mine.run("BEGIN IMMEDIATE") != SQLITE_OK) continue;
        try {
          baton::sqlite::fence(mine.db, "shared", token);
          mine.run("INSERT INTO journal(token) VALUES(" + std::to_string(token) + ")");
          mine.run("COMMIT");
        } catch (const baton::StaleToken& stale) {
          ++refused[t];
          if (!(stale.highest() > token)) ++bad_refusals[t];
          mine.run("ROLLBACK");
        }
      }
    });
  }
  for (auto& w : workers) w.join();

  std::vector<std::uint64_t> admitted;
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.db, "SELECT token FROM journal ORDER BY rowid", -1, &stmt, nullptr) == SQLITE_OK);
  while (sqlite3_step(stmt) == SQLITE_ROW) admitted.push_back(static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0)));
  sqlite3_finalize(stmt);
  int total_refused = 0;
  for (int t = 0; t < threads; ++t) {
    total_refused += refused[t];
    CHECK(bad_refusals[t] == 0);
  }
  INFO(admitted.size() << " admitted, " << total_refused << " refused");
  REQUIRE(admitted.size() >= 2);
  CHECK(total_refused > 0);
  CHECK(std::is_sorted(admitted.begin(), admitted.end()));
  CHECK(db.text("SELECT token FROM baton_fences WHERE resource = 'shared'") == std::to_string(admitted.back()));
}

// The classic scenario, with real processes: the first holder is SIGSTOPped
// past its lease, the next holder takes the lock and writes through the
// fence, and the first resumes and writes with its old token. The late
// write is refused and its transaction rolled back.
TEST_CASE("a holder paused past its lease cannot overwrite the next holder's write") {
  TempDir dir("baton-fence-classic");
  const auto lock_db = dir / "locks.db";
  const auto data_db = dir / "data.db";
  RawSqlite data(data_db);
  data.exec("CREATE TABLE account(owner TEXT, token INTEGER); INSERT INTO account VALUES('nobody', 0);"
            "CREATE TABLE journal(who TEXT, token INTEGER)");
  baton::sqlite::Options options;
  options.path = lock_db;
  baton::LockManager manager(baton::sqlite::make_backend(options));

  Process first({FENCE_HOLDER_PATH, lock_db.string(), data_db.string(), "account", dir.path().string()}, {},
                dir / "holder.log");
  REQUIRE(wait_for_file(dir / "ready", 10s));
  const auto first_token = std::stoull(*read_file(dir / "ready"));
  CHECK(data.text("SELECT owner FROM account") == "first");
  REQUIRE(first.stop());

  auto second = manager.lock("account");
  REQUIRE(second.acquire_for(10s));
  REQUIRE(second.token() > first_token);
  data.exec("BEGIN IMMEDIATE");
  baton::sqlite::fence(data.db, "account", second.token());
  data.exec("UPDATE account SET owner = 'second', token = " + std::to_string(second.token()));
  data.exec("COMMIT");

  write_file(dir / "go", "");
  first.resume();
  const auto exit_code = first.wait_exit(10s);
  INFO("holder log: " << read_file(dir / "holder.log").value_or(""));
  CHECK(exit_code == std::optional<int>(3));
  CHECK(read_file(dir / "result") ==
        "stale " + std::to_string(first_token) + " " + std::to_string(second.token()));
  CHECK(data.text("SELECT owner FROM account") == "second");
  CHECK(data.text("SELECT token FROM account") == std::to_string(second.token()));
  // Only the first write's journal entry committed; the late one rolled back.
  CHECK(data.text("SELECT group_concat(who) FROM journal") == "first");
}
