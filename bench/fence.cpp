// bench/fence.cpp: the fence measure: what the stale-write check at the
// resource adds to a write. One write to one resource (a row's counter
// bumped in a write transaction; on Redis a SET), made plainly and with the
// fencing token of a baton Lock held for the whole measure, on a connection
// of its own, in alternating runs, uncontended:
//   sqlite:   BEGIN IMMEDIATE; UPDATE; COMMIT (plain), and with
//             baton::sqlite::fence() before the UPDATE (fenced)
//   postgres: BEGIN; UPDATE; COMMIT (plain), with baton::postgres::fence()
//             before the UPDATE (fenced), and with
//             SELECT baton.baton_fence($1, $2) instead (fenced_sql)
//   redis:    SET (plain), EVALSHA of a script that makes the same SET
//             (plain_eval), and baton::redis::Fence::set() (fenced)
// The plain write is the raw primitive every variant is compared with.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <baton/sqlite_fence.hpp>

#include "commands.hpp"
#include "common.hpp"

#if BATON_HAS_POSTGRES
#include <libpq-fe.h>

#include <baton/postgres_fence.hpp>
#endif
#if BATON_HAS_REDIS
#include <baton/redis_fence.hpp>
#endif

namespace bench {

namespace {

// The variants of one write, "plain" first, and how to close their
// connections.
struct Writes {
  std::vector<std::pair<std::string, std::function<void()>>> variants;
  std::function<void()> close;
};

// The resource every variant writes, distinct from every other run's.
std::string resource() { return "bench-account-" + std::to_string(::getpid()); }

// A database of its own beside the lock file: the data's, as fence() wants.
Writes sqlite_writes(std::uint64_t token) {
  const auto path = std::filesystem::path(setup.sqlite_path).replace_filename("data.db").string();
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) throw std::runtime_error("sqlite: cannot open " + path);
  sqlite3_busy_timeout(db, 5000);
  sqlite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  "CREATE TABLE IF NOT EXISTS accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);"
                  "INSERT OR IGNORE INTO accounts VALUES(1, 0)");
  sqlite3_stmt* update = nullptr;
  sqlite3_prepare_v2(db, "UPDATE accounts SET balance = balance + 1 WHERE id = 1", -1, &update, nullptr);
  auto write = [db, update, res = resource()](bool fenced, std::uint64_t t) {
    sqlite_exec(db, "BEGIN IMMEDIATE");
    if (fenced) baton::sqlite::fence(db, res, t);
    if (!step_done(update)) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
    sqlite_exec(db, "COMMIT");
  };
  Writes w;
  w.variants.emplace_back("plain", [=] { write(false, token); });
  w.variants.emplace_back("fenced", [=] { write(true, token); });
  w.close = [db, update] {
    sqlite3_finalize(update);
    sqlite3_close(db);
  };
  return w;
}

#if BATON_HAS_POSTGRES
// Runs `sql` with `params` (PQexecParams); throws with the server's message
// unless it succeeds.
void pg_exec(PGconn* c, const char* sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0);
  const auto status = PQresultStatus(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(PQerrorMessage(c));
}

// On $BATON_TEST_PG_DSN, the database of the lock table, in the fence's
// default schema.
Writes postgres_writes(std::uint64_t token) {
  PGconn* c = PQconnectdb(env("BATON_TEST_PG_DSN").c_str());
  if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
  pg_exec(c, "SET client_min_messages = warning");
  pg_exec(c, "CREATE TABLE IF NOT EXISTS bench_accounts (id integer PRIMARY KEY, balance bigint NOT NULL)");
  pg_exec(c, "INSERT INTO bench_accounts VALUES (1, 0) ON CONFLICT DO NOTHING");
  baton::postgres::install_fence(c);
  const std::vector<std::string> fence_params{resource(), std::to_string(token)};
  // how: 0 plain, 1 fence(), 2 SELECT baton.baton_fence().
  auto write = [c, fence_params, token](int how) {
    pg_exec(c, "BEGIN");
    if (how == 1) baton::postgres::fence(c, fence_params[0], token);
    if (how == 2) pg_exec(c, "SELECT baton.baton_fence($1, $2)", fence_params);
    pg_exec(c, "UPDATE bench_accounts SET balance = balance + 1 WHERE id = 1");
    pg_exec(c, "COMMIT");
  };
  Writes w;
  w.variants.emplace_back("plain", [=] { write(0); });
  w.variants.emplace_back("fenced", [=] { write(1); });
  w.variants.emplace_back("fenced_sql", [=] { write(2); });
  w.close = [c, fence_params] {
    pg_exec(c, "DELETE FROM baton.baton_fences WHERE resource = $1", {fence_params[0]});
    PQfinish(c);
  };
  return w;
}
#endif

#if BATON_HAS_REDIS
// One command on `c`; throws unless its reply is a success.
void redis_ok(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
  const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
  if (r != nullptr) freeReplyObject(r);
  if (!ok) throw std::runtime_error("redis: command " + argv[0] + " failed");
}

// On $BATON_TEST_REDIS_URL; the Fence on its own connection to it.
Writes redis_writes(std::uint64_t token) {
  redisContext* c = redis_connect();
  if (c == nullptr || c->err) throw std::runtime_error("redis: cannot connect");
  const std::string key = setup.key_prefix + "account:1", value = "balance=90";
  auto* loaded = static_cast<redisReply*>(
      redisCommand(c, "SCRIPT LOAD %s", "return redis.call('SET', KEYS[1], ARGV[1])"));
  if (loaded == nullptr || loaded->type != REDIS_REPLY_STRING) throw std::runtime_error("redis: SCRIPT LOAD failed");
  const std::string sha(loaded->str, loaded->len);
  freeReplyObject(loaded);
  baton::redis::Options o;
  o.url = env("BATON_TEST_REDIS_URL");
  auto fence = std::make_shared<baton::redis::Fence>(o);
  Writes w;
  w.variants.emplace_back("plain", [=] { redis_ok(c, {"SET", key, value}); });
  w.variants.emplace_back("plain_eval", [=] { redis_ok(c, {"EVALSHA", sha, "1", key, value}); });
  w.variants.emplace_back("fenced", [=] { fence->set(key, value, token); });
  w.close = [=] {
    redis_ok(c, {"DEL", key, baton::redis::Fence::fence_key(key)});
    redisFree(c);
  };
  return w;
}
#endif

// The writes of setup.backend.
Writes backend_writes(std::uint64_t token) {
#if BATON_HAS_POSTGRES
  if (setup.backend == "postgres") return postgres_writes(token);
#endif
#if BATON_HAS_REDIS
  if (setup.backend == "redis") return redis_writes(token);
#endif
  return sqlite_writes(token);
}

void print_fence(int runs, int iters, const Writes& w, const std::vector<Stats>& stats) {
  std::printf("{\"backend\":\"%s\",\"measure\":\"fence\",\"runs\":%d,\"iters\":%d", setup.backend.c_str(), runs,
              iters);
  const double plain = median(stats[0].p50);
  for (size_t i = 0; i < stats.size(); ++i) {
    const char* n = w.variants[i].first.c_str();
    const double p50 = median(stats[i].p50);
    std::printf(",\"%s_us_p50\":%.2f,\"%s_us_p99\":%.2f", n, p50, n, median(stats[i].p99));
    if (i > 0) std::printf(",\"%s_to_plain\":%.3f,\"%s_added_us\":%.2f", n, p50 / plain, n, p50 - plain);
  }
  std::printf("}\n");
}

}  // namespace

// Every iteration is timed; the reported p50/p99 are the medians over
// `runs` runs of `iters` iterations of each variant, after a warm-up.
int cmd_fence(int runs, int iters) {
  baton::LockManager manager(make_backend());
  auto lock = manager.lock("bench-fence-" + std::to_string(::getpid()));
  lock.acquire();
  Writes w = backend_writes(lock.token());
  for (auto& [name, fn] : w.variants) timed(iters / 5 + 10, fn);
  std::vector<Stats> stats(w.variants.size());
  for (int r = 0; r < runs; ++r) {
    for (size_t i = 0; i < w.variants.size(); ++i) stats[i].add(timed(iters, w.variants[i].second));
  }
  print_fence(runs, iters, w, stats);
  w.close();
  lock.release();
  return 0;
}

}  // namespace bench
