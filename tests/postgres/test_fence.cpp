// Tests of baton::postgres::fence() and the SQL function baton_fence():
// the check of fencing tokens at the resource, in the writer's own
// transaction, against the server $BATON_TEST_PG_DSN names. Each case has a
// fresh schema of its own for the fence table, dropped afterwards.
#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/postgres.hpp"
#include "baton/postgres_fence.hpp"
#include "catch_session.hpp"
#include "test_support.hpp"

using namespace baton::test;

namespace {

std::string dsn() { return std::getenv("BATON_TEST_PG_DSN"); }

// A libpq session of the test's own. Not copyable.
struct Session {
  PGconn* conn = PQconnectdb(dsn().c_str());
  Session() {
    REQUIRE(PQstatus(conn) == CONNECTION_OK);
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { PQfinish(conn); }
  // Runs `sql`; returns its SQLSTATE ("" on success) and the first value of
  // its first row in `value`.
  std::string run(const std::string& sql, std::string* value = nullptr, std::string* detail = nullptr) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    std::string state;
    if (status == PGRES_TUPLES_OK && value != nullptr) *value = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      state = s ? s : "?";
      const char* d = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
      if (detail != nullptr) *detail = d ? d : "";
    }
    PQclear(r);
    return state;
  }
  void exec(const std::string& sql) {
    INFO(sql << ": " << PQerrorMessage(conn));
    REQUIRE(run(sql).empty());
  }
  std::string value(const std::string& sql) {
    std::string v;
    INFO(sql << ": " << PQerrorMessage(conn));
    REQUIRE(run(sql, &v).empty());
    return v;
  }
};

// A fresh schema for one case; dropped with everything in it.
struct Fresh {
  std::string schema = "fence_" + random_hex();
  Session db;
  ~Fresh() { db.run("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); }
  // fence() in a transaction of its own, committed when admitted and rolled
  // back when not.
  void fenced(const std::string& resource, std::uint64_t token) {
    db.exec("BEGIN");
    try {
      baton::postgres::fence(db.conn, resource, token, schema);
    } catch (...) {
      db.exec("ROLLBACK");
      throw;
    }
    db.exec("COMMIT");
  }
  std::string highest(const std::string& resource) {
    return db.value("SELECT token FROM " + schema + ".baton_fences WHERE resource = '" + resource + "'");
  }
};

}  // namespace

TEST_CASE_METHOD(Fresh, "fence: the first write of a resource is admitted, creating the table, and recorded") {
  fenced("r", 5);
  CHECK(highest("r") == "5");
}

TEST_CASE_METHOD(Fresh, "fence: an equal token is admitted (one holder writes twice), a higher one raises the bar") {
  fenced("r", 5);
  CHECK_NOTHROW(fenced("r", 5));
  CHECK(highest("r") == "5");
  fenced("r", 9);
  CHECK(highest("r") == "9");
}

TEST_CASE_METHOD(Fresh, "fence: a lower token raises StaleToken and the server aborts the transaction") {
  db.exec("CREATE TABLE " + schema + "_data(v text)");
  fenced("r", 9);
  db.exec("BEGIN");
  db.exec("INSERT INTO " + schema + "_data VALUES('late')");
  try {
    baton::postgres::fence(db.conn, "r", 5, schema);
    FAIL("a lower token was admitted");
  } catch (const baton::StaleToken& stale) {
    CHECK(stale.resource() == "r");
    CHECK(stale.token() == 5);
    CHECK(stale.highest() == 9);
  }
  CHECK(PQtransactionStatus(db.conn) == PQTRANS_INERROR);
  // A COMMIT of an aborted transaction is a rollback.
  db.run("COMMIT");
  CHECK(db.value("SELECT count(*) FROM " + schema + "_data") == "0");
  CHECK(highest("r") == "9");
  CHECK_NOTHROW(fenced("other", 1));
  db.run("DROP TABLE " + schema + "_data");
}

TEST_CASE_METHOD(Fresh, "fence: baton_fence() in plain SQL raises SQLSTATE BF001 with the highest as DETAIL") {
  baton::postgres::install_fence(db.conn, schema);
  baton::postgres::install_fence(db.conn, schema);  // idempotent
  db.exec("BEGIN");
  std::string ignored, detail;
  CHECK(db.run("SELECT " + schema + ".baton_fence('r', 7)", &ignored).empty());
  CHECK(db.run("SELECT " + schema + ".baton_fence('r', 7)", &ignored).empty());
  CHECK(db.run("SELECT " + schema + ".baton_fence('r', 6)", &ignored, &detail) == "BF001");
  CHECK(detail == "7");
  db.run("ROLLBACK");
  CHECK(db.value("SELECT count(*) FROM " + schema + ".baton_fences") == "0");
}

TEST_CASE_METHOD(Fresh, "fence: outside a transaction is a logic_error and sends nothing") {
  CHECK_THROWS_AS(baton::postgres::fence(db.conn, "r", 5, schema), std::logic_error);
  CHECK(db.value("SELECT count(*) FROM pg_namespace WHERE nspname = '" + schema + "'") == "0");
  db.exec("BEGIN");
  CHECK_THROWS_AS(baton::postgres::fence(db.conn, "r", 0, schema), std::invalid_argument);
  db.exec("ROLLBACK");
}

// 8 sessions, on a schema nobody installed yet (so they race to create it),
// fence random tokens and journal each admitted one in the same
// transaction. In admission order (the journal's sequence, drawn while the
// resource's row is locked), admitted tokens never decrease.
TEST_CASE_METHOD(Fresh, "fence: concurrent fences from 8 sessions never admit a lower token after a higher one") {
  const std::string journal = schema + "_journal";
  db.exec("CREATE TABLE " + journal + "(id bigserial PRIMARY KEY, token bigint NOT NULL)");
  constexpr int threads = 8;
  constexpr int rounds = 60;
  std::atomic<int> refused{0}, bad_refusals{0}, errors{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      PGconn* conn = PQconnectdb(dsn().c_str());
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      std::uniform_int_distribution<std::uint64_t> pick(1, 1000);
      auto run = [&](const std::string& sql) { PQclear(PQexec(conn, sql.c_str())); };
      for (int i = 0; i < rounds; ++i) {
        const std::uint64_t token = pick(rng);
        run("BEGIN");
        try {
          baton::postgres::fence(conn, "shared", token, schema);
          run("INSERT INTO " + journal + "(token) VALUES(" + std::to_string(token) + ")");
          run("COMMIT");
        } catch (const baton::StaleToken& stale) {
          ++refused;
          if (!(stale.highest() > token)) ++bad_refusals;
          run("ROLLBACK");
        } catch (const std::exception& e) {
          ++errors;
          UNSCOPED_INFO("session " << t << ": " << e.what());
          run("ROLLBACK");
        }
      }
      PQfinish(conn);
    });
  }
  for (auto& w : workers) w.join();
  CHECK(errors == 0);
  CHECK(bad_refusals == 0);

  std::vector<std::uint64_t> admitted;
  PGresult* r = PQexec(db.conn, ("SELECT token FROM " + journal + " ORDER BY id").c_str());
  REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(r); ++i) admitted.push_back(std::stoull(PQgetvalue(r, i, 0)));
  PQclear(r);
  db.run("DROP TABLE " + journal);
  INFO(admitted.size() << " admitted, " << refused << " refused");
  REQUIRE(admitted.size() >= 2);
  CHECK(refused > 0);
  CHECK(std::is_sorted(admitted.begin(), admitted.end()));
  CHECK(highest("shared") == std::to_string(admitted.back()));
}

// The classic scenario, with real processes: the first holder is SIGSTOPped
// past its lease, the next holder takes the lock and writes through the
// fence, and the first resumes and writes with its old token. The late
// write is refused and its transaction rolled back.
TEST_CASE_METHOD(Fresh, "fence: a holder paused past its lease cannot overwrite the next holder's write") {
  TempDir dir("baton-pg-fence");
  db.exec("CREATE SCHEMA " + schema);
  db.exec("CREATE TABLE " + schema + ".account(owner text, token bigint); INSERT INTO " + schema +
          ".account VALUES('nobody', 0); CREATE TABLE " + schema + ".journal(who text, token bigint)");
  const std::string name = "pg-fence-" + random_hex();
  baton::postgres::Options options;
  options.dsn = dsn();
  baton::LockManager manager(baton::postgres::make_backend(options));

  Process first({FENCE_HOLDER_PATH, dsn(), name, schema, dir.path().string()}, {}, dir / "holder.log");
  REQUIRE(wait_for_file(dir / "ready", 10s));
  const auto first_token = std::stoull(*read_file(dir / "ready"));
  CHECK(db.value("SELECT owner FROM " + schema + ".account") == "first");
  REQUIRE(first.stop());

  auto second = manager.lock(name);
  REQUIRE(second.acquire_for(10s));
  REQUIRE(second.token() > first_token);
  db.exec("BEGIN");
  baton::postgres::fence(db.conn, "account", second.token(), schema);
  db.exec("UPDATE " + schema + ".account SET owner = 'second', token = " + std::to_string(second.token()));
  db.exec("COMMIT");

  write_file(dir / "go", "");
  first.resume();
  const auto exit_code = first.wait_exit(10s);
  INFO("holder log: " << read_file(dir / "holder.log").value_or(""));
  CHECK(exit_code == std::optional<int>(3));
  CHECK(read_file(dir / "result") == "stale " + std::to_string(first_token) + " " + std::to_string(second.token()));
  CHECK(db.value("SELECT owner FROM " + schema + ".account") == "second");
  CHECK(db.value("SELECT token FROM " + schema + ".account") == std::to_string(second.token()));
  CHECK(db.value("SELECT string_agg(who, ',') FROM " + schema + ".journal") == "first");
}

int main(int argc, char** argv) {
  if (auto code = server_or_skip("postgres_fence_tests", "BATON_TEST_PG_DSN", argc, argv)) return *code;
  return run_catch_session(argc, argv);
}
