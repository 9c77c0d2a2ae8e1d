// examples/resource_queue_postgres.cpp: 8 worker processes take tasks from
// a queue table in PostgreSQL in batches of 5 consecutive tasks, and no
// worker ever takes a task from the middle of another worker's batch.
//
//   resource_queue_postgres [DSN]   (default: $BATON_TEST_PG_DSN)
//
// The queue is the table baton_example.tasks (400 rows, recreated on each
// run). Taking a batch is two statements: a plain SELECT of the 5 lowest
// unclaimed ids, then an UPDATE that claims them. Two workers running them
// side by side would read the same 5 ids; no SKIP LOCKED, no SERIALIZABLE,
// just the resource lock ("queue", "tasks") around the pair. It is named
// "__baton/queue/tasks" in baton's reserved namespace, so no user lock can
// take it (docs/design.md §1.14), and lives in the same database, through
// baton's PostgreSQL backend.
//
// The claim is fenced: baton::postgres::fence() checks the grant's token in
// the claim's transaction, so a worker that stalled past its lease and lost
// the lock has its claim refused (baton::StaleToken) instead of taking
// tasks someone else now owns.
//
// The parent fills the queue, starts 8 workers (this program with
// --worker), then checks the claims log: every task claimed exactly once,
// every batch 5 consecutive ids. Exit status 0 when all hold, 77 (skipped)
// without a DSN (1 under CI=true).
#include <libpq-fe.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <baton/baton.hpp>
#include <baton/postgres_fence.hpp>

#include "workers.hpp"

namespace {

constexpr int worker_count = 8;
constexpr int task_count = 400;
constexpr int batch_size = 5;

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Connection connect(const std::string& dsn) {
  Connection conn(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
  PQexec(conn.get(), "SET client_min_messages = warning");
  return conn;
}

// Runs `sql` with text parameters $1, $2, ...; throws on any error.
Result run(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  Result r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                        nullptr, 0),
           &PQclear);
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  }
  return r;
}

// Claims the tasks `ids` ("{3,4,5,6,7}") as batch `batch` of `worker`, in
// one transaction admitted by the fence. False when the token is stale:
// the server aborted the transaction, and it is rolled back.
bool claim(PGconn* conn, const std::string& ids, int worker, int batch, std::uint64_t token) {
  run(conn, "BEGIN");
  try {
    baton::postgres::fence(conn, "baton_example.tasks", token);
    const std::vector<std::string> params{ids, std::to_string(worker), std::to_string(batch)};
    run(conn, "UPDATE baton_example.tasks SET worker = $2, batch = $3 WHERE id = ANY($1::integer[])", params);
    run(conn, "INSERT INTO baton_example.claims(task, worker, batch) SELECT unnest($1::integer[]), $2, $3", params);
    run(conn, "COMMIT");
    return true;
  } catch (const baton::StaleToken& e) {
    run(conn, "ROLLBACK");
    std::fprintf(stderr, "refused, this process lost the lock: %s\n", e.what());
    return false;
  } catch (...) {
    PQexec(conn, "ROLLBACK");
    throw;
  }
}

int worker(int id, const std::string& dsn) {
  baton::postgres::Options options;
  options.dsn = dsn;
  baton::LockManager manager(baton::postgres::make_backend(options));
  baton::Lock lock = manager.resource_lock("queue", "tasks");
  Connection conn = connect(dsn);
  for (int batch = 0;;) {
    std::unique_lock guard(lock);  // FIFO among the 8 workers
    Result next = run(conn.get(),
                      "SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') FROM (SELECT id FROM baton_example.tasks "
                      "WHERE worker IS NULL ORDER BY id LIMIT $1::integer) AS lowest",
                      {std::to_string(batch_size)});
    const std::string ids = PQgetvalue(next.get(), 0, 0);
    if (ids == "{}") return 0;  // the queue is empty
    if (claim(conn.get(), ids, id, batch, lock.token())) ++batch;  // a refused claim is tried again
  }
}

// Every task claimed exactly once, every batch `batch_size` consecutive ids.
bool check(PGconn* conn) {
  Result totals = run(conn,
                      "SELECT count(*), count(DISTINCT task), "
                      "(SELECT count(*) FROM baton_example.tasks WHERE worker IS NULL) FROM baton_example.claims");
  Result bad_batches = run(conn,
                           "SELECT count(*) FROM (SELECT worker, batch FROM baton_example.claims "
                           "GROUP BY worker, batch "
                           "HAVING count(*) <> $1::integer OR max(task) - min(task) <> $1::integer - 1) AS bad",
                           {std::to_string(batch_size)});
  Result batches = run(conn, "SELECT count(DISTINCT (worker, batch)) FROM baton_example.claims");
  const int claims = std::atoi(PQgetvalue(totals.get(), 0, 0));
  const int distinct = std::atoi(PQgetvalue(totals.get(), 0, 1));
  const int unclaimed = std::atoi(PQgetvalue(totals.get(), 0, 2));
  const int bad = std::atoi(PQgetvalue(bad_batches.get(), 0, 0));
  std::printf("%d claims of %d distinct tasks (of %d), %d left unclaimed, %s batches, %d not 5 consecutive ids\n",
              claims, distinct, task_count, unclaimed, PQgetvalue(batches.get(), 0, 0), bad);
  return claims == task_count && distinct == task_count && unclaimed == 0 && bad == 0;
}

int parent(const std::string& dsn) {
  Connection conn = connect(dsn);
  run(conn.get(), "CREATE SCHEMA IF NOT EXISTS baton_example");
  run(conn.get(), "DROP TABLE IF EXISTS baton_example.tasks, baton_example.claims");
  run(conn.get(), "CREATE TABLE baton_example.tasks(id integer PRIMARY KEY, worker integer, batch integer)");
  run(conn.get(), "CREATE TABLE baton_example.claims(task integer NOT NULL, worker integer NOT NULL, "
                  "batch integer NOT NULL)");
  run(conn.get(), "INSERT INTO baton_example.tasks(id) SELECT generate_series(1, $1::integer)",
      {std::to_string(task_count)});
  baton::postgres::install_fence(conn.get());  // once, so the workers' first fences need not create it
  if (!example::run_workers(worker_count, {dsn})) return 1;
  const bool ok = check(conn.get());
  std::printf("%s\n", ok ? "every task claimed once, in whole batches" : "FAILED: a task or a batch is wrong");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (example::is_worker(argc, argv)) return worker(std::stoi(argv[2]), argc > 3 ? argv[3] : "");
    const char* dsn = argc > 1 ? argv[1] : std::getenv("BATON_TEST_PG_DSN");
    if (dsn == nullptr || *dsn == '\0') {
      return example::skip_without_server("resource_queue_postgres", "no DSN given, BATON_TEST_PG_DSN not set");
    }
    return parent(dsn);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resource_queue_postgres: %s\n", e.what());
    return 1;
  }
}
