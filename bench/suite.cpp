// The benchmark suite behind scripts/bench.sh: one backend, one measure, one
// JSON object on stdout.
//
//   bench_suite BACKEND uncontended [RUNS] [ITERS]
//   bench_suite BACKEND handoff DEPTH [ROUNDS] [HOLD_US]
//   bench_suite BACKEND handoff_floor DEPTH [ROUNDS] [HOLD_US]
//   bench_suite postgres handoff_floor_fenced DEPTH [ROUNDS] [HOLD_US]
//   bench_suite sqlite handoff_floor_wake DEPTH [ROUNDS] [HOLD_US]
//   bench_suite BACKEND contention PROCS [SECONDS]
//   bench_suite sqlite contention_floor PROCS [SECONDS] [WRITES]
//   bench_suite BACKEND many_names [NAMES]
//
// BACKEND: sqlite | postgres | redis. Servers come from $BATON_TEST_PG_DSN and
// $BATON_TEST_REDIS_URL, as for the tests; SQLite uses a fresh file under
// $TMPDIR.
//
// uncontended: acquire+release of one Lock, and the floor (the bare primitive
//   pair on the same kind of connection), in alternating runs of ITERS
//   iterations; every iteration is timed, so p50 and p99 are per pair. The
//   reported p50/p99 are the medians over RUNS runs.
//     sqlite:   two write transactions, BEGIN IMMEDIATE; write one row; COMMIT
//               (floor) and two empty BEGIN IMMEDIATE; COMMIT (floor_empty)
//     postgres: SELECT pg_advisory_lock(k) + SELECT pg_advisory_unlock(k)
//               (floor), and with the lock statement also bumping a one-row
//               counter table, committed (floor_fenced)
//     redis:    SET k v NX PX + compare-and-delete EVAL
// handoff: DEPTH+1 participants (threads, alternately in two processes, each
//   with its own LockManager and Lock; on PostgreSQL each is a connection)
//   take turns on one name. They queue in participant order, so FIFO makes
//   every hand-off cross from one process to the other. The holder holds for
//   HOLD_US (default 5000: a lock guards some work, and the waiter has
//   settled at the head of the queue), waits until DEPTH waiters are queued, stamps CLOCK_MONOTONIC and releases; the
//   next waiter stamps its grant. Latency = grant - release. The released
//   participant queues again at the tail, so the depth stays DEPTH.
// handoff_floor: the same on the bare primitive (postgres: pg_advisory_lock/
//   unlock of one key; redis: each participant BLPOPs its own key and the
//   holder RPUSHes to the next one's; sqlite: one write transaction moves a
//   FIFO queue table on by one, then a futex wake-up of the next), so the
//   growth with DEPTH that the primitive itself shows can be told from
//   baton's.
// handoff_floor_wake (sqlite): that floor's futex wake-ups alone.
// handoff_floor_fenced (postgres): the same, with the lock statement also
//   bumping a one-row counter, committed (a durable token with each grant).
// contention: PROCS processes loop acquire/release on one name for SECONDS;
//   total grants/s and max/min grants per process.
// contention_floor (sqlite): PROCS processes take turns in a ring, WRITES (1
//   or 2) write transactions and one futex wake-up per turn (see
//   cmd_contention_floor).
// many_names: lock and release NAMES distinct names (2 threads), then the
//   uncontended measure again (baton only).
#include <sqlite3.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <baton/baton.hpp>

#if BATON_HAS_POSTGRES
#include <libpq-fe.h>
#endif
#if BATON_HAS_REDIS
#include <hiredis/hiredis.h>
#endif

namespace {

using namespace std::chrono_literals;

std::string g_kind;
std::string g_db;
std::string g_prefix;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::shared_ptr<baton::Backend> make() {
#if BATON_HAS_POSTGRES
  if (g_kind == "postgres") {
    baton::postgres::Options o;
    o.dsn = env("BATON_TEST_PG_DSN");
    return baton::postgres::make_backend(o);
  }
#endif
#if BATON_HAS_REDIS
  if (g_kind == "redis") {
    baton::redis::Options o;
    o.url = env("BATON_TEST_REDIS_URL");
    o.key_prefix = g_prefix;
    return baton::redis::make_backend(o);
  }
#endif
  if (g_kind != "sqlite") {
    std::fprintf(stderr, "bench_suite: backend %s not built or unknown\n", g_kind.c_str());
    std::exit(64);
  }
  baton::sqlite::Options o;
  o.path = g_db;
  return baton::sqlite::make_backend(o);
}

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) { return pct(std::move(v), 0.5); }

// Memory shared by forked processes (and their threads).
template <class T>
T* shared(size_t n = 1) {
  void* p = ::mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return new (p) T[n]();
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout = nullptr) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

// ---- floors -------------------------------------------------------------------

void sqlite_exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err);
    std::abort();
  }
}

// Steps a prepared statement that returns no rows, then resets it: true
// when it ran to completion.
bool step_done(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE;
}

struct Floor {
  std::function<void()> pair;
  std::function<void()> close;
};

Floor sqlite_floor(bool write_row) {
  sqlite3* db = nullptr;
  sqlite3_open(g_db.c_str(), &db);
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
Floor redis_floor() {
  const std::string url = env("BATON_TEST_REDIS_URL");
  const auto hostport = url.substr(8, url.find('/', 8) - 8);
  const auto colon = hostport.rfind(':');
  redisContext* c = redisConnect(hostport.substr(0, colon).c_str(), std::stoi(hostport.substr(colon + 1)));
  if (c == nullptr || c->err) std::abort();
  const std::string key = g_prefix + "floor";
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

// Times ITERS calls of fn; returns per-call microseconds.
std::vector<double> timed(int iters, const std::function<void()>& fn) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    const long long t0 = now_ns();
    fn();
    us.push_back(static_cast<double>(now_ns() - t0) / 1000.0);
  }
  return us;
}

struct Stats {
  std::vector<double> p50, p99;
  void add(const std::vector<double>& us) {
    p50.push_back(pct(us, 0.5));
    p99.push_back(pct(us, 0.99));
  }
};

int cmd_uncontended(int runs, int iters) {
  baton::LockManager manager(make());
  auto lock = manager.lock("bench-uncontended-" + std::to_string(::getpid()));
  auto baton_pair = [&] {
    lock.acquire();
    lock.release();
  };
  std::vector<std::pair<std::string, Floor>> floors;
#if BATON_HAS_POSTGRES
  if (g_kind == "postgres") {
    floors.emplace_back("floor", postgres_floor(false));
    floors.emplace_back("floor_fenced", postgres_floor(true));
  }
#endif
#if BATON_HAS_REDIS
  if (g_kind == "redis") floors.emplace_back("floor", redis_floor());
#endif
  if (g_kind == "sqlite") {
    floors.emplace_back("floor", sqlite_floor(true));
    floors.emplace_back("floor_empty", sqlite_floor(false));
  }
  // Warm-up: connections, prepared statements, caches.
  timed(iters / 5 + 10, baton_pair);
  for (auto& [n, f] : floors) timed(iters / 5 + 10, f.pair);
  Stats b;
  std::vector<Stats> fs(floors.size());
  for (int r = 0; r < runs; ++r) {
    b.add(timed(iters, baton_pair));
    for (size_t i = 0; i < floors.size(); ++i) fs[i].add(timed(iters, floors[i].second.pair));
  }
  std::printf("{\"backend\":\"%s\",\"runs\":%d,\"iters\":%d,\"uncontended_us_p50\":%.2f,\"uncontended_us_p99\":%.2f",
              g_kind.c_str(), runs, iters, median(b.p50), median(b.p99));
  for (size_t i = 0; i < floors.size(); ++i) {
    std::printf(",\"%s_us_p50\":%.2f,\"%s_us_p99\":%.2f", floors[i].first.c_str(), median(fs[i].p50),
                floors[i].first.c_str(), median(fs[i].p99));
    floors[i].second.close();
  }
  std::printf(",\"ratio_to_floor\":%.3f}\n", median(b.p50) / median(fs[0].p50));
  return 0;
}

// ---- hand-off at a queue depth -------------------------------------------------

struct HandoffShared {
  std::atomic<long long> released_ns;
  std::atomic<int> grants;  // grants so far (including the first)
  std::atomic<bool> done;
  std::atomic<int> failed;
  std::atomic<int> turn;  // the participant that may queue next
};

// Called by a participant the moment it is granted: stores the time since
// the last release as sample g (the g-th grant; the first has no release
// before it), and ends the measure once `rounds` samples are in. True when
// the measure is over (this grant's or another participant's doing).
bool record_grant(HandoffShared& sh, double* samples, int rounds) {
  const long long granted = now_ns();
  const int g = sh.grants.fetch_add(1);
  if (g > 0 && g <= rounds) samples[g] = static_cast<double>(granted - sh.released_ns.load()) / 1000.0;
  if (g >= rounds) sh.done = true;
  return sh.done;
}

// Runs the participants 0..participants-1 of a hand-off measure, each on a
// thread, alternately in a forked child (odd) and here (even). Each process
// calls make_participant() once, after the fork, and runs what it returns
// as participant(i); an exception counts as a failed participant and ends
// the measure. Then prints the samples (samples[1..rounds], microseconds
// from release to grant) as one JSON line; 70 if a participant failed.
int run_handoff(const std::function<std::function<void(int)>()>& make_participant, int participants,
                HandoffShared& sh, const double* samples, const char* measure, int depth, int rounds, int hold_us) {
  auto run_process = [&](int parity) {
    const auto participant = make_participant();
    std::vector<std::thread> threads;
    for (int i = parity; i < participants; i += 2) {
      threads.emplace_back([&, i] {
        try {
          participant(i);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "bench_suite %s: participant %d: %s\n", measure, i, e.what());
          sh.failed += 1;
          sh.done = true;
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  const pid_t child = ::fork();
  if (child == 0) {
    run_process(1);
    std::_Exit(0);
  }
  run_process(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (sh.failed > 0) return 70;
  std::vector<double> us(samples + 1, samples + rounds + 1);
  std::printf("{\"backend\":\"%s\",\"measure\":\"%s\",\"depth\":%d,"
              "\"waiters\":\"threads, alternately in 2 processes\",\"rounds\":%d,\"hold_us\":%d,"
              "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
              g_kind.c_str(), measure, depth, rounds, hold_us, pct(us, 0.5), pct(us, 0.9), pct(us, 0.99),
              pct(us, 1.0));
  return 0;
}

int cmd_handoff(int depth, int rounds, int hold_us) {
  const std::string name = "handoff-" + std::to_string(depth) + "-" + std::to_string(::getpid());
  auto* sh = shared<HandoffShared>();
  // One sample per grant after the first; the array has room for them all.
  auto* samples = shared<double>(static_cast<size_t>(rounds) + 1);
  const int participants = depth + 1;

  // One inspector per process, shared by its participants' threads.
  auto make_participant = [&] {
    auto inspector = std::make_shared<baton::LockManager>(make());
    return std::function<void(int)>([&, inspector](int i) {
      // Queue in participant order: i waits for its turn (i-1 is about
      // to queue), then until 0..i-1 are in. One thread polls at a time,
      // and connects only then (500 connects at once time out).
      for (int t; (t = sh->turn.load()) < i && !sh->done;) {
        // Far from its turn, nap long: 500 threads polling fast starve the CPU.
        std::this_thread::sleep_for(t >= i - 2 ? 200us : 20ms);
      }
      baton::LockManager manager(make());
      auto lock = manager.lock(name);
      if (i > 0) {
        for (;;) {
          const auto info = inspector->inspect(name);
          if ((info.held && static_cast<int>(info.waiters) >= i - 1) || sh->done) break;
          std::this_thread::sleep_for(200us);
        }
      }
      bool first = true;
      for (;;) {
        if (first && i == 0) {
          lock.acquire();
          sh->turn = 1;
        } else {
          if (first) sh->turn = i + 1;
          lock.acquire();
        }
        first = false;
        if (record_grant(*sh, samples, rounds)) {
          lock.release();
          return;
        }
        // Hold for hold_us, and release only with the full queue behind us.
        std::this_thread::sleep_for(std::chrono::microseconds(hold_us));
        for (;;) {
          const auto info = inspector->inspect(name);
          if (static_cast<int>(info.waiters) >= depth || sh->done) break;
          std::this_thread::sleep_for(100us);
        }
        sh->released_ns = now_ns();
        lock.release();
      }
    });
  };

  return run_handoff(make_participant, participants, *sh, samples, "handoff", depth, rounds, hold_us);
}

// ---- hand-off floor at a queue depth ------------------------------------------

// One participant of the floor, on its own connection to the bare primitive.
struct FloorParticipant {
  std::function<void()> wait;  // blocks until this participant holds
  std::function<void()> pass;  // lets the next participant in
  std::function<void()> close;
  std::function<void(int)> await_waiters;  // until the server queues n waiters
};

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
  const std::string url = env("BATON_TEST_REDIS_URL");
  const auto hostport = url.substr(8, url.find('/', 8) - 8);
  const auto colon = hostport.rfind(':');
  redisContext* c = redisConnect(hostport.substr(0, colon).c_str(), std::stoi(hostport.substr(colon + 1)));
  if (c == nullptr || c->err) throw std::runtime_error("redis: cannot connect");
  const std::string base = g_prefix + name + ":";
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

// Fills the queue with `rows` rows of `name`, before the participants start.
void sqlite_floor_fill(const std::string& name, int rows) {
  sqlite3* db = nullptr;
  sqlite3_open(g_db.c_str(), &db);
  sqlite_exec(db, sqlite_floor_schema);
  sqlite_exec(db, "BEGIN");
  sqlite3_stmt* add = nullptr;
  sqlite3_prepare_v2(db, sqlite_floor_row, -1, &add, nullptr);
  for (int i = 0; i < rows; ++i) {
    sqlite3_bind_blob(add, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(add, 2, i);
    if (!step_done(add)) {
      std::fprintf(stderr, "bench_suite: queue fill: %s\n", sqlite3_errmsg(db));
      std::exit(70);
    }
  }
  sqlite3_finalize(add);
  sqlite_exec(db, "COMMIT");
  sqlite3_close(db);
}

// store false: the futex wake-ups alone, no write (handoff_floor_wake), the
// part of the floor no store can save.
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
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(g_db.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    throw std::runtime_error("sqlite: cannot open");
  }
  // Only the holder writes: nothing waits for the write lock but a reader's
  // checkpoint, rarely.
  sqlite3_busy_timeout(db, 5000);
  sqlite_exec(db, "PRAGMA synchronous=NORMAL");
  struct Statements {
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* pop = nullptr;
    sqlite3_stmt* push = nullptr;
    sqlite3_stmt* commit = nullptr;
  };
  auto st = std::make_shared<Statements>();
  sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &st->begin, nullptr);
  sqlite3_prepare_v2(db, "DELETE FROM queue WHERE name = ?1 AND ticket = (SELECT min(ticket) FROM queue WHERE name = ?1)",
                     -1, &st->pop, nullptr);
  sqlite3_prepare_v2(db, sqlite_floor_row, -1, &st->push, nullptr);
  sqlite3_prepare_v2(db, "COMMIT", -1, &st->commit, nullptr);
  for (sqlite3_stmt* s : {st->pop, st->push}) {
    sqlite3_bind_blob(s, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  }
  sqlite3_bind_int(st->push, 2, i);
  p.pass = [db, st, wake_next] {
    for (sqlite3_stmt* s : {st->begin, st->pop, st->push, st->commit}) {
      if (!step_done(s)) throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
    }
    wake_next();
  };
  p.close = [db, st] {
    for (sqlite3_stmt* s : {st->begin, st->pop, st->push, st->commit}) sqlite3_finalize(s);
    sqlite3_close(db);
  };
  return p;
}

// handoff_floor: cmd_handoff on the bare primitive instead of baton. DEPTH+1
// participants (threads, alternately in two processes, each with its own
// connection) take turns: the holder holds for HOLD_US, waits until DEPTH
// others have sent their wait, stamps and passes; the next stamps its grant
// and the released one waits again at the tail.
//   postgres: pg_advisory_lock / pg_advisory_unlock of one key
//   redis:    BLPOP on the participant's own key / RPUSH to the next one's
//   sqlite:   FUTEX_WAIT on the participant's own word / one write
//             transaction on the queue table, then FUTEX_WAKE of the next's
int cmd_handoff_floor(const std::string& measure, int depth, int rounds, int hold_us) {
  const bool fenced = measure == "handoff_floor_fenced";
  const bool wake_only = measure == "handoff_floor_wake";
  if (g_kind != "postgres" && g_kind != "redis" && g_kind != "sqlite") {
    std::fprintf(stderr, "bench_suite: handoff_floor needs sqlite, postgres or redis\n");
    return 64;
  }
  if ((fenced && g_kind != "postgres") || (wake_only && g_kind != "sqlite")) {
    std::fprintf(stderr, "bench_suite: %s is for %s\n", measure.c_str(), fenced ? "postgres" : "sqlite");
    return 64;
  }
  const std::string name = "handoff-floor-" + std::to_string(depth) + "-" + std::to_string(::getpid());
  auto* sh = shared<HandoffShared>();
  auto* waiting = shared<std::atomic<int>>();  // participants that sent their wait
  auto* exited = shared<std::atomic<int>>();
  auto* samples = shared<double>(static_cast<size_t>(rounds) + 1);
  const int participants = depth + 1;
  // SQLite: the queue table starts with a row per participant (the holder's
  // included, as baton's holder row), and each participant's wake-up word.
  std::atomic<std::uint32_t>* words = nullptr;
  if (g_kind == "sqlite") {
    if (!wake_only) sqlite_floor_fill(name, participants);
    words = shared<std::atomic<std::uint32_t>>(static_cast<size_t>(participants));
  }

  auto open = [&](int i) {
    if (g_kind == "sqlite") return sqlite_floor_participant(name, i, participants, words, !wake_only);
#if BATON_HAS_POSTGRES
    if (g_kind == "postgres") return postgres_floor_participant(name, fenced);
#endif
#if BATON_HAS_REDIS
    if (g_kind == "redis") return redis_floor_participant(name, i, participants);
#endif
    (void)i;
    return FloorParticipant{};
  };

  auto make_participant = [&] {
    return std::function<void(int)>([&](int i) {
      // Connect and queue in participant order, one at a time (see
      // cmd_handoff). Participant 0 holds from the start.
      for (int t; (t = sh->turn.load()) < i && !sh->done;) {
        std::this_thread::sleep_for(t >= i - 2 ? 200us : 20ms);
      }
      FloorParticipant p = open(i);
      if (i == 0 && g_kind == "postgres") p.wait();
      if (i > 0) p.await_waiters(i - 1);
      bool first = true;
      for (;;) {
        if (!first || i > 0) {
          waiting->fetch_add(1);
          if (first) sh->turn = i + 1;
          p.wait();
          waiting->fetch_sub(1);
        } else {
          sh->turn = 1;
        }
        first = false;
        if (record_grant(*sh, samples, rounds)) {
          // Wake the next, which sees done and does the same; the last
          // one out has nobody left to wake.
          if (exited->fetch_add(1) < participants - 1) p.pass();
          p.close();
          return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(hold_us));
        while (waiting->load() < depth && !sh->done) std::this_thread::sleep_for(100us);
        sh->released_ns = now_ns();
        p.pass();
      }
    });
  };

  return run_handoff(make_participant, participants, *sh, samples, measure.c_str(), depth, rounds, hold_us);
}

// ---- contention ----------------------------------------------------------------

struct ContentionShared {
  std::atomic<int> ready;
  std::atomic<long long> start_ns;
  std::atomic<long long> stop_ns;
  long long grants[64];
};

int cmd_contention(int procs, double seconds) {
  const std::string name = "contention-" + std::to_string(procs) + "-" + std::to_string(::getpid());
  auto* sh = shared<ContentionShared>();
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        baton::LockManager manager(make());
        auto lock = manager.lock(name);
        lock.acquire();  // connect, prepare
        lock.release();
        sh->ready += 1;
        while (sh->start_ns.load() == 0) std::this_thread::sleep_for(100us);
        const long long stop = sh->stop_ns.load();
        long long n = 0;
        for (;;) {
          lock.acquire();
          const long long t = now_ns();
          lock.release();
          if (t >= stop) break;
          ++n;
        }
        sh->grants[p] = n;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_suite contention: %s\n", e.what());
        rc = 70;
      }
      std::_Exit(rc);
    }
    kids.push_back(pid);
  }
  while (sh->ready.load() < procs) std::this_thread::sleep_for(1ms);
  const long long start = now_ns() + 20'000'000;
  sh->stop_ns = start + static_cast<long long>(seconds * 1e9);
  sh->start_ns = start;
  int bad = 0;
  for (pid_t k : kids) {
    int st = 0;
    ::waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++bad;
  }
  if (bad) return 70;
  long long total = 0, mx = 0, mn = -1;
  std::string per;
  for (int p = 0; p < procs; ++p) {
    total += sh->grants[p];
    mx = std::max(mx, sh->grants[p]);
    mn = mn < 0 ? sh->grants[p] : std::min(mn, sh->grants[p]);
    if (p > 0) per += ',';
    per += std::to_string(sh->grants[p]);
  }
  std::printf("{\"backend\":\"%s\",\"procs\":%d,\"seconds\":%.1f,\"grants_per_s\":%.0f,\"fairness_max_min\":%.3f,"
              "\"grants\":[%s]}\n",
              g_kind.c_str(), procs, seconds, static_cast<double>(total) / seconds,
              mn > 0 ? static_cast<double>(mx) / static_cast<double>(mn) : 0.0, per.c_str());
  return 0;
}

// ---- contention floor (SQLite) --------------------------------------------------

// The bare primitive a strictly FIFO lock on one SQLite file is built from,
// looped by PROCS processes in turn, each sleeping until woken. A turn is
// the write transaction that hands the turn on (BEGIN IMMEDIATE; UPDATE one
// row; COMMIT, prepared), then a futex wake-up of the next process in the
// ring. With WRITES = 2 the process then makes a second write transaction
// (another row) before it sleeps: the re-queue. That is what a lock whose
// queue is a table of waiter rows each waiter writes itself (DESIGN.md's
// SQLite algorithm) needs at least for every contended grant: the hand-off
// and the released process's waiter row, as the contention measure's loop
// does (release, then acquire again at once). Baton's waiters post their
// row for the next writer to insert (join_requests.hpp), so baton makes one write a
// contended grant, as WRITES = 1. One process hands the turn to itself (no
// wake-up), so WRITES = 2 with PROCS = 1 is an acquire+release's two
// writes. No queue reads, no liveness, no lease. A busy writer sleeps on a
// futex until a write transaction ends, as baton's do (wake_board.hpp), so the
// floor is not inflated by SQLite's default busy handler's millisecond
// naps.
struct FloorRing {
  std::atomic<long long> start_ns;
  std::atomic<long long> stop_ns;
  std::atomic<int> ready;
  std::atomic<int> done;
  alignas(64) std::atomic<std::uint32_t> writes;
  std::atomic<std::uint32_t> write_waiters;
  struct alignas(64) Turn {
    std::atomic<std::uint32_t> word;
  } turn[64];
  long long turns[64];
};

int ring_busy(void* arg, int /*count*/) {
  auto* sh = static_cast<FloorRing*>(arg);
  const std::uint32_t seen = sh->writes.load();
  sh->write_waiters += 1;
  const timespec ms{0, 1'000'000};
  futex(&sh->writes, FUTEX_WAIT, seen, &ms);
  sh->write_waiters -= 1;
  return 1;
}

void ring_wrote(FloorRing* sh) {
  sh->writes += 1;
  if (sh->write_waiters.load() != 0) futex(&sh->writes, FUTEX_WAKE, INT_MAX);
}

int cmd_contention_floor(int procs, double seconds, int writes) {
  if (g_kind != "sqlite") {
    std::fprintf(stderr, "bench_suite: contention_floor is for sqlite\n");
    return 64;
  }
  if (procs < 1 || procs > static_cast<int>(std::size(FloorRing{}.turns)) || writes < 1 || writes > 2) {
    std::fprintf(stderr, "bench_suite: contention_floor takes 1 to %zu processes and 1 or 2 writes\n",
                 std::size(FloorRing{}.turns));
    return 64;
  }
  auto* sh = shared<FloorRing>();
  {
    sqlite3* db = nullptr;
    sqlite3_open(g_db.c_str(), &db);
    // Baton's page size (its files are made with 1 KiB pages): each commit
    // writes whole pages to the WAL, so 4 KiB pages would slow the floor.
    sqlite_exec(db, "PRAGMA page_size=1024; PRAGMA journal_mode=WAL;"
                    "CREATE TABLE IF NOT EXISTS ring(k INTEGER PRIMARY KEY, v INTEGER);"
                    "INSERT OR IGNORE INTO ring VALUES(1, 0);"
                    "INSERT OR IGNORE INTO ring VALUES(2, 0)");
    sqlite3_close(db);
  }
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      sqlite3* db = nullptr;
      sqlite3_open_v2(g_db.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
      sqlite3_busy_handler(db, ring_busy, sh);
      sqlite_exec(db, "PRAGMA synchronous=NORMAL");
      sqlite3_stmt* begin = nullptr;
      sqlite3_stmt* commit = nullptr;
      sqlite3_stmt* bump[2] = {nullptr, nullptr};
      sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr);
      sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr);
      sqlite3_prepare_v2(db, "UPDATE ring SET v = v + 1 WHERE k = 1", -1, &bump[0], nullptr);
      sqlite3_prepare_v2(db, "UPDATE ring SET v = v + 1 WHERE k = 2", -1, &bump[1], nullptr);
      auto write = [&](sqlite3_stmt* what) {
        for (sqlite3_stmt* s : {begin, what, commit}) {
          if (!step_done(s)) {
            std::fprintf(stderr, "bench_suite: ring write: %s\n", sqlite3_errmsg(db));
            std::_Exit(70);
          }
        }
        ring_wrote(sh);
      };
      auto& mine = sh->turn[p].word;
      auto& next = sh->turn[(p + 1) % procs].word;
      sh->ready += 1;
      while (sh->start_ns.load() == 0) std::this_thread::sleep_for(100us);
      long long n = 0;
      for (;;) {
        while (mine.load() == 0) {
          if (sh->done.load() != 0) break;
          futex(&mine, FUTEX_WAIT, 0);
        }
        if (sh->done.load() != 0) break;
        mine = 0;
        write(bump[0]);
        ++n;
        if (now_ns() >= sh->stop_ns.load()) sh->done = 1;
        next = 1;
        if (procs > 1) futex(&next, FUTEX_WAKE, 1);
        if (sh->done.load() != 0) break;
        if (writes == 2) write(bump[1]);
      }
      sh->turns[p] = n;
      // Wake everyone still asleep so the ring ends.
      for (int q = 0; q < procs; ++q) {
        sh->turn[q].word = 1;
        futex(&sh->turn[q].word, FUTEX_WAKE, 1);
      }
      for (sqlite3_stmt* s : {begin, commit, bump[0], bump[1]}) sqlite3_finalize(s);
      sqlite3_close(db);
      std::_Exit(0);
    }
    kids.push_back(pid);
  }
  while (sh->ready.load() < procs) std::this_thread::sleep_for(1ms);
  const long long start = now_ns() + 20'000'000;
  sh->stop_ns = start + static_cast<long long>(seconds * 1e9);
  sh->turn[0].word = 1;
  sh->start_ns = start;
  futex(&sh->turn[0].word, FUTEX_WAKE, 1);
  int failed = 0;
  for (pid_t k : kids) {
    int status = 0;
    ::waitpid(k, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  if (failed != 0) return 70;
  long long total = 0;
  for (int p = 0; p < procs; ++p) total += sh->turns[p];
  std::printf("{\"backend\":\"sqlite\",\"measure\":\"contention_floor\",\"procs\":%d,\"writes\":%d,"
              "\"seconds\":%.1f,\"turns_per_s\":%.0f}\n",
              procs, writes, seconds, static_cast<double>(total) / seconds);
  return 0;
}

// ---- many names ----------------------------------------------------------------

int cmd_many_names(int names) {
  const std::string base = "many-" + std::to_string(::getpid()) + "-";
  const long long t0 = now_ns();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      baton::LockManager manager(make());
      for (int i = t; i < names; i += 2) {
        auto lock = manager.lock(base + std::to_string(i));
        lock.acquire();
        lock.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double fill_s = static_cast<double>(now_ns() - t0) / 1e9;
  baton::LockManager manager(make());
  auto lock = manager.lock(base + "probe");
  auto pair = [&] {
    lock.acquire();
    lock.release();
  };
  timed(200, pair);
  Stats b;
  for (int r = 0; r < 5; ++r) b.add(timed(1000, pair));
  // A name among the 100,000 too.
  auto old = manager.lock(base + std::to_string(names / 2));
  auto old_us = timed(1000, [&] {
    old.acquire();
    old.release();
  });
  std::printf("{\"backend\":\"%s\",\"names\":%d,\"fill_s\":%.1f,\"many_names_us_p50\":%.2f,"
              "\"many_names_us_p99\":%.2f,\"old_name_us_p50\":%.2f}\n",
              g_kind.c_str(), names, fill_s, median(b.p50), median(b.p99), pct(old_us, 0.5));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_suite sqlite|postgres|redis uncontended [RUNS] [ITERS] | handoff DEPTH [ROUNDS] |"
                 " handoff_floor[_fenced|_wake] DEPTH [ROUNDS] | contention PROCS [SECONDS] | sqlite contention_floor PROCS [SECONDS] [WRITES] |"
                 " many_names [NAMES]\n");
    return 64;
  }
  g_kind = argv[1];
  const std::string what = argv[2];
  auto arg = [&](int i, double dflt) { return argc > i ? std::atof(argv[i]) : dflt; };
  const auto dir = std::filesystem::temp_directory_path() / ("baton-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  g_db = (dir / "bench.db").string();
  g_prefix = "baton-bench:" + std::to_string(::getpid()) + ":";
  int rc = 64;
  try {
    if (what == "uncontended") rc = cmd_uncontended(static_cast<int>(arg(3, 7)), static_cast<int>(arg(4, 2000)));
    else if (what == "handoff") rc = cmd_handoff(static_cast<int>(arg(3, 1)), static_cast<int>(arg(4, 500)), static_cast<int>(arg(5, 5000)));
    else if (what == "handoff_floor" || what == "handoff_floor_fenced" || what == "handoff_floor_wake") rc = cmd_handoff_floor(what, static_cast<int>(arg(3, 1)), static_cast<int>(arg(4, 500)), static_cast<int>(arg(5, 5000)));
    else if (what == "contention_floor") rc = cmd_contention_floor(static_cast<int>(arg(3, 1)), arg(4, 2.0), static_cast<int>(arg(5, 1)));
    else if (what == "contention") rc = cmd_contention(static_cast<int>(arg(3, 1)), arg(4, 2.0));
    else if (what == "many_names") rc = cmd_many_names(static_cast<int>(arg(3, 100000)));
    else std::fprintf(stderr, "bench_suite: unknown measure %s\n", what.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_suite: %s\n", e.what());
    rc = 70;
  }
  std::filesystem::remove_all(dir);
  return rc;
}
