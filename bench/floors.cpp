// bench/floors.cpp: the bare primitives of floors.hpp.
#include "floors.hpp"

#include <linux/futex.h>

#include <memory>
#include <stdexcept>
#include <thread>

#include "common.hpp"

#if BATON_HAS_POSTGRES
#include <libpq-fe.h>
#endif

namespace bench {

using namespace std::chrono_literals;

namespace {

// write_row: each transaction writes or deletes the holder row (floor);
// else both are empty (floor_empty), the cost of the transactions alone.
Floor sqlite_floor(bool write_row) {
  sqlite3* db = nullptr;
  sqlite3_open(setup.sqlite_path.c_str(), &db);
  sqlite3_busy_timeout(db, 5000);
  sqlite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  "CREATE TABLE IF NOT EXISTS floor(k INTEGER PRIMARY KEY, v BLOB)");
  sqlite3_stmt *set = nullptr, *del = nullptr;
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO floor VALUES(1, 'holder')", -1, &set, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM floor WHERE k = 1", -1, &del, nullptr);
  Floor f;
  if (write_row) {
    f.pair = [=] {
      for (sqlite3_stmt* st : {set, del}) {
        sqlite_exec(db, "BEGIN IMMEDIATE");
        sqlite3_step(st);
        sqlite3_reset(st);
        sqlite_exec(db, "COMMIT");
      }
    };
  } else {
    f.pair = [=] {
      sqlite_exec(db, "BEGIN IMMEDIATE");
      sqlite_exec(db, "COMMIT");
      sqlite_exec(db, "BEGIN IMMEDIATE");
      sqlite_exec(db, "COMMIT");
    };
  }
  f.close = [=] {
    sqlite3_finalize(set);
    sqlite3_finalize(del);
    sqlite3_close(db);
  };
  return f;
}

#if BATON_HAS_POSTGRES
// Prepares "fenced_lock": pg_advisory_lock($1) that also bumps a counter in
// a one-row table and returns it, committed before the reply. Prepared, as
// baton's statements are: a floor must not pay a parse that the code it
// bounds does not.
void prepare_fenced_lock(PGconn* c) {
  for (PGresult* r : {PQexec(c, "SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS bench_fence"
                                " (k integer PRIMARY KEY, v bigint NOT NULL)"),
                      PQprepare(c, "fenced_lock",
                                "INSERT INTO bench_fence AS t (k, v) SELECT 1, 1 FROM (SELECT"
                                " pg_advisory_lock($1::bigint)) AS g ON CONFLICT (k) DO UPDATE SET v = t.v + 1"
                                " RETURNING t.v",
                                1, nullptr)}) {
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) throw std::runtime_error(PQerrorMessage(c));
  }
}

// fenced: the lock statement also bumps a counter in a one-row table and
// returns it, committed before the reply (one round trip, as baton's
// acquire): the least a lock with a durable fencing token costs here, so
// the share of the ratio that the token's durability takes can be read off.
Floor postgres_floor(bool fenced) {
  PGconn* c = PQconnectdb(env("BATON_TEST_PG_DSN").c_str());
  if (PQstatus(c) != CONNECTION_OK) std::abort();
  auto key = std::make_shared<std::string>(std::to_string(baton::postgres::advisory_key("bench-floor")));
  if (fenced) prepare_fenced_lock(c);
  Floor f;
  f.pair = [=] {
    const char* params[] = {key->c_str()};
    PGresult* r = fenced ? PQexecPrepared(c, "fenced_lock", 1, params, nullptr, nullptr, 0)
                         : PQexecParams(c, "SELECT pg_advisory_lock($1::bigint)", 1, nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) std::abort();
    PQclear(r);
    r = PQexecParams(c, "SELECT pg_advisory_unlock($1::bigint)", 1, nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) std::abort();
    PQclear(r);
  };
  f.close = [=] { PQfinish(c); };
  return f;
}
#endif

#if BATON_HAS_REDIS
// SET NX PX and a compare-and-delete script: the least a leased lock with an
// owner check costs on Redis.
Floor redis_floor() {
  redisContext* c = redis_connect();
  if (c == nullptr || c->err) std::abort();
  const std::string key = setup.key_prefix + "floor";
  Floor f;
  f.pair = [=] {
    auto* set = static_cast<redisReply*>(redisCommand(c, "SET %s owner-1 NX PX 30000", key.c_str()));
    auto* del = static_cast<redisReply*>(redisCommand(
        c, "EVAL %s 1 %s owner-1",
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        key.c_str()));
    if (set == nullptr || del == nullptr || del->type != REDIS_REPLY_INTEGER || del->integer != 1) std::abort();
    freeReplyObject(set);
    freeReplyObject(del);
  };
  f.close = [=] { redisFree(c); };
  return f;
}
#endif

}  // namespace

std::vector<std::pair<std::string, Floor>> uncontended_floors() {
  std::vector<std::pair<std::string, Floor>> floors;
#if BATON_HAS_POSTGRES
  if (setup.backend == "postgres") {
    floors.emplace_back("floor", postgres_floor(false));
    floors.emplace_back("floor_fenced", postgres_floor(true));
  }
#endif
#if BATON_HAS_REDIS
  if (setup.backend == "redis") floors.emplace_back("floor", redis_floor());
#endif
#if BENCH_HAS_ETCD
  if (setup.backend == "etcd") floors.emplace_back("floor", etcd_floor());
#endif
  if (setup.backend == "sqlite") {
    floors.emplace_back("floor", sqlite_floor(true));
    floors.emplace_back("floor_empty", sqlite_floor(false));
  }
  return floors;
}

#if BATON_HAS_POSTGRES
// pg_advisory_lock/unlock on one key: the server's queue picks the next.
// fenced: the lock statement also bumps a one-row counter, committed before
// the reply (as postgres_floor(true)), so the grant carries a durable token
// as baton's does.
FloorParticipant postgres_floor_participant(const std::string& name, bool fenced) {
  PGconn* c = PQconnectdb(env("BATON_TEST_PG_DSN").c_str());
  if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
  auto key = std::make_shared<std::string>(std::to_string(baton::postgres::advisory_key(name)));
  if (fenced) prepare_fenced_lock(c);
  // The single value of a statement's result, or throws.
  auto value_of = [=](PGresult* r) {
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    std::string value = ok && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
    PQclear(r);
    if (!ok) throw std::runtime_error(PQerrorMessage(c));
    return value;
  };
  auto exec = [=](const char* sql) {
    const char* params[] = {key->c_str()};
    return value_of(PQexecParams(c, sql, 1, nullptr, params, nullptr, nullptr, 0));
  };
  FloorParticipant p;
  if (fenced) {
    p.wait = [=] {
      const char* params[] = {key->c_str()};
      value_of(PQexecPrepared(c, "fenced_lock", 1, params, nullptr, nullptr, 0));
    };
  } else {
    p.wait = [=] { exec("SELECT pg_advisory_lock($1::bigint)"); };
  }
  p.pass = [=] { exec("SELECT pg_advisory_unlock($1::bigint)"); };
  p.close = [=] { PQfinish(c); };
  p.await_waiters = [=](int n) {
    while (std::stoi(exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                          " AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint")) < n) {
      std::this_thread::sleep_for(200us);
    }
  };
  return p;
}
#endif

#if BATON_HAS_REDIS
// Each participant BLPOPs its own key; the holder RPUSHes to the next one's
// (participants form a ring, so the order is fixed without a server queue).
FloorParticipant redis_floor_participant(const std::string& name, int i, int participants) {
  redisContext* c = redis_connect();
  if (c == nullptr || c->err) throw std::runtime_error("redis: cannot connect");
  const std::string base = setup.key_prefix + name + ":";
  auto mine = std::make_shared<std::string>(base + std::to_string(i));
  auto next = std::make_shared<std::string>(base + std::to_string((i + 1) % participants));
  auto exec = [=](const char* format, const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(c, format, key.c_str()));
    const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR && r->type != REDIS_REPLY_NIL;
    if (r != nullptr) freeReplyObject(r);
    if (!ok) throw std::runtime_error("redis: command failed");
  };
  FloorParticipant p;
  p.wait = [=] { exec("BLPOP %s 0", *mine); };
  p.pass = [=] { exec("RPUSH %s 1", *next); };
  p.close = [=] { redisFree(c); };
  p.await_waiters = [](int) {};  // the ring fixes the order
  return p;
}
#endif

namespace {

// SQLite has no blocking lock, so its floor is the least a FIFO queue kept
// in a SQLite file costs per hand-off: the holder's pass is one write
// transaction that moves the queue on by one (deletes the head row, appends
// a row at the tail, rows the size of baton's waiter rows, in a WITHOUT
// ROWID table keyed like baton's, 1 KiB pages as baton's files have), then
// one futex wake-up of the next participant, which sleeps on its own word
// (participants form a ring, as on Redis). What the depth costs here (a
// deeper B-tree, more sleeping threads) baton pays as well.
constexpr const char* sqlite_floor_schema =
    "PRAGMA page_size=1024; PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS queue(name BLOB NOT NULL, ticket INTEGER NOT NULL, owner TEXT, host TEXT,"
    " pid INTEGER, proc_pid INTEGER, proc_start INTEGER, pid_ns TEXT, boot_id TEXT, heartbeat_deadline INTEGER,"
    " ttl_ms INTEGER, PRIMARY KEY(name, ticket)) WITHOUT ROWID";
constexpr const char* sqlite_floor_row =
    "INSERT INTO queue SELECT ?1, ifnull(max(ticket), 0) + 1, '0123456789abcdef0123456789abcdef-' || ?2,"
    " 'bench-host', ?2, ?2, 123456789, 'pid:[4026531836]', '7d5b9d6e-2f41-4c1e-9a53-0b8f2a4c6d1e', 0, 30000"
    " FROM queue WHERE name = ?1";

// A SQLite connection that moves the floor's queue of `name` on by one per
// pass: participant i deletes the head row and appends its own at the tail,
// in one write transaction of prepared statements.
class SqliteQueueMover {
 public:
  SqliteQueueMover(const std::string& name, int i) {
    if (sqlite3_open_v2(setup.sqlite_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      throw std::runtime_error("sqlite: cannot open");
    }
    // Only the holder writes: nothing waits for the write lock but a
    // reader's checkpoint, rarely.
    sqlite3_busy_timeout(db_, 5000);
    sqlite_exec(db_, "PRAGMA synchronous=NORMAL");
    sqlite3_prepare_v2(db_, "BEGIN IMMEDIATE", -1, &begin_, nullptr);
    sqlite3_prepare_v2(db_,
                       "DELETE FROM queue WHERE name = ?1 AND ticket = (SELECT min(ticket) FROM queue WHERE name = ?1)",
                       -1, &pop_, nullptr);
    sqlite3_prepare_v2(db_, sqlite_floor_row, -1, &push_, nullptr);
    sqlite3_prepare_v2(db_, "COMMIT", -1, &commit_, nullptr);
    for (sqlite3_stmt* s : {pop_, push_}) {
      sqlite3_bind_blob(s, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    }
    sqlite3_bind_int(push_, 2, i);
  }
  SqliteQueueMover(const SqliteQueueMover&) = delete;
  SqliteQueueMover& operator=(const SqliteQueueMover&) = delete;
  ~SqliteQueueMover() { close(); }

  void close() {
    // Both calls are no-ops on null: closing twice is harmless.
    for (sqlite3_stmt** s : {&begin_, &pop_, &push_, &commit_}) {
      sqlite3_finalize(*s);
      *s = nullptr;
    }
    sqlite3_close(db_);
    db_ = nullptr;
  }

  void move_on() {
    for (sqlite3_stmt* s : {begin_, pop_, push_, commit_}) {
      if (!step_done(s)) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db_));
    }
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* pop_ = nullptr;
  sqlite3_stmt* push_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
};

}  // namespace

void sqlite_floor_fill(const std::string& name, int rows) {
  sqlite3* db = nullptr;
  sqlite3_open(setup.sqlite_path.c_str(), &db);
  sqlite_exec(db, sqlite_floor_schema);
  sqlite_exec(db, "BEGIN");
  sqlite3_stmt* add = nullptr;
  sqlite3_prepare_v2(db, sqlite_floor_row, -1, &add, nullptr);
  for (int i = 0; i < rows; ++i) {
    sqlite3_bind_blob(add, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(add, 2, i);
    if (!step_done(add)) {
      std::fprintf(stderr, "bench_suite: queue fill: %s\n", sqlite3_errmsg(db));
      std::exit(exit_failed);
    }
  }
  sqlite3_finalize(add);
  sqlite_exec(db, "COMMIT");
  sqlite3_close(db);
}

// Without `store`, the futex wake-ups alone are the part of the floor no
// store can save.
FloorParticipant sqlite_floor_participant(const std::string& name, int i, int participants,
                                          std::atomic<std::uint32_t>* words, bool store) {
  auto* mine = &words[i];
  auto* next = &words[(i + 1) % participants];
  FloorParticipant p;
  p.wait = [mine] {
    while (mine->load() == 0) futex(mine, FUTEX_WAIT, 0);
    *mine = 0;
  };
  p.await_waiters = [](int) {};  // the ring fixes the order
  auto wake_next = [next] {
    *next = 1;
    futex(next, FUTEX_WAKE, 1);
  };
  if (!store) {
    p.pass = wake_next;
    p.close = [] {};
    return p;
  }
  auto mover = std::make_shared<SqliteQueueMover>(name, i);
  p.pass = [mover, wake_next] {
    mover->move_on();
    wake_next();
  };
  p.close = [mover] { mover->close(); };
  return p;
}

}  // namespace bench
