// Uncontended acquire+release on each backend against its floor: the bare
// primitive pair on the same kind of connection, in the same run.
//   sqlite:   two write transactions (BEGIN IMMEDIATE; write one row; COMMIT)
//             and, for reference, two empty BEGIN IMMEDIATE; COMMIT
//   postgres: SELECT pg_advisory_lock(k) + SELECT pg_advisory_unlock(k)
//   redis:    SET k v NX PX + compare-and-delete EVAL
// Backends whose server is not configured ($BATON_TEST_PG_DSN,
// $BATON_TEST_REDIS_URL) are left out. Report medians:
//   bench_uncontended --benchmark_repetitions=9 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <baton/baton.hpp>

#if BATON_HAS_POSTGRES
#include <libpq-fe.h>
#endif
#if BATON_HAS_REDIS
#include <hiredis/hiredis.h>
#endif

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

const std::filesystem::path& sqlite_path() {
  static const std::filesystem::path path = [] {
    auto dir = std::filesystem::temp_directory_path() / ("baton-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / "bench.db";
  }();
  return path;
}

void baton_pair(benchmark::State& state, baton::LockManager& manager) {
  auto lock = manager.lock("bench-uncontended-" + std::to_string(::getpid()));
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
}

void BM_sqlite_baton(benchmark::State& state) {
  baton::sqlite::Options o;
  o.path = sqlite_path();
  baton::LockManager manager(baton::sqlite::make_backend(o));
  baton_pair(state, manager);
}

void sqlite_exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err);
    std::abort();
  }
}

sqlite3* sqlite_floor_db() {
  sqlite3* db = nullptr;
  sqlite3_open(sqlite_path().c_str(), &db);
  sqlite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  "CREATE TABLE IF NOT EXISTS floor(k INTEGER PRIMARY KEY, v BLOB)");
  return db;
}

void BM_sqlite_floor_write(benchmark::State& state) {
  sqlite3* db = sqlite_floor_db();
  sqlite3_stmt *set, *del;
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO floor VALUES(1, 'holder')", -1, &set, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM floor WHERE k = 1", -1, &del, nullptr);
  for (auto _ : state) {
    for (sqlite3_stmt* st : {set, del}) {
      sqlite_exec(db, "BEGIN IMMEDIATE");
      sqlite3_step(st);
      sqlite3_reset(st);
      sqlite_exec(db, "COMMIT");
    }
  }
  sqlite3_finalize(set);
  sqlite3_finalize(del);
  sqlite3_close(db);
}

void BM_sqlite_floor_empty(benchmark::State& state) {
  sqlite3* db = sqlite_floor_db();
  for (auto _ : state) {
    sqlite_exec(db, "BEGIN IMMEDIATE");
    sqlite_exec(db, "COMMIT");
    sqlite_exec(db, "BEGIN IMMEDIATE");
    sqlite_exec(db, "COMMIT");
  }
  sqlite3_close(db);
}

#if BATON_HAS_POSTGRES
void BM_postgres_baton(benchmark::State& state) {
  baton::postgres::Options o;
  o.dsn = env("BATON_TEST_PG_DSN");
  baton::LockManager manager(baton::postgres::make_backend(o));
  baton_pair(state, manager);
}

void BM_postgres_floor(benchmark::State& state) {
  PGconn* c = PQconnectdb(env("BATON_TEST_PG_DSN").c_str());
  const std::string key = std::to_string(baton::postgres::advisory_key("bench-floor"));
  const char* params[] = {key.c_str()};
  for (auto _ : state) {
    for (const char* sql : {"SELECT pg_advisory_lock($1::bigint)", "SELECT pg_advisory_unlock($1::bigint)"}) {
      PGresult* r = PQexecParams(c, sql, 1, nullptr, params, nullptr, nullptr, 0);
      if (PQresultStatus(r) != PGRES_TUPLES_OK) std::abort();
      PQclear(r);
    }
  }
  PQfinish(c);
}

#endif

#if BATON_HAS_REDIS
void BM_redis_baton(benchmark::State& state) {
  baton::redis::Options o;
  o.url = env("BATON_TEST_REDIS_URL");
  o.key_prefix = "baton-bench:";
  baton::LockManager manager(baton::redis::make_backend(o));
  baton_pair(state, manager);
}

void BM_redis_floor(benchmark::State& state) {
  const std::string url = env("BATON_TEST_REDIS_URL");
  const auto hostport = url.substr(8, url.find('/', 8) - 8);
  const auto colon = hostport.rfind(':');
  redisContext* c = redisConnect(hostport.substr(0, colon).c_str(), std::stoi(hostport.substr(colon + 1)));
  for (auto _ : state) {
    auto* set = static_cast<redisReply*>(redisCommand(c, "SET baton-bench:floor owner-1 NX PX 30000"));
    auto* del = static_cast<redisReply*>(redisCommand(
        c, "EVAL %s 1 baton-bench:floor owner-1",
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"));
    if (set == nullptr || del == nullptr || del->type != REDIS_REPLY_INTEGER || del->integer != 1) std::abort();
    freeReplyObject(set);
    freeReplyObject(del);
  }
  redisFree(c);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("sqlite/baton_acquire_release", BM_sqlite_baton)->UseRealTime();
  benchmark::RegisterBenchmark("sqlite/floor_2_write_tx", BM_sqlite_floor_write)->UseRealTime();
  benchmark::RegisterBenchmark("sqlite/floor_2_empty_tx", BM_sqlite_floor_empty)->UseRealTime();
#if BATON_HAS_POSTGRES
  if (!env("BATON_TEST_PG_DSN").empty()) {
    benchmark::RegisterBenchmark("postgres/baton_acquire_release", BM_postgres_baton)->UseRealTime();
    benchmark::RegisterBenchmark("postgres/floor_lock_unlock", BM_postgres_floor)->UseRealTime();
  }
#endif
#if BATON_HAS_REDIS
  if (!env("BATON_TEST_REDIS_URL").empty()) {
    benchmark::RegisterBenchmark("redis/baton_acquire_release", BM_redis_baton)->UseRealTime();
    benchmark::RegisterBenchmark("redis/floor_setnx_cad", BM_redis_floor)->UseRealTime();
  }
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(sqlite_path().parent_path());
}
