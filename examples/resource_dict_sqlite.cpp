// examples/resource_dict_sqlite.cpp: a dictionary kept in an SQLite table,
// changed by 8 processes, each change a read-modify-write of the whole
// dictionary that must not interleave with another.
//
//   resource_dict_sqlite [DIR]      (default: ./resource-dict)
//
// The dictionary lives in DIR/data.db, table dict(key, value). A step reads
// the whole table, adds 1 to one key in memory and writes the whole table
// back: two steps that overlap would lose one's increment. The lock that
// keeps them apart is the resource lock ("table", "dict"), named
// "__baton/table/dict" in baton's reserved namespace, so no user lock can
// ever take it (docs/design.md §1.14). Locks live in DIR/baton.db.
//
// A holder can stall past its lease (a pause, a swapped-out VM) and wake up
// believing it still holds the lock; so every write-back also presents the
// grant's fencing token to baton::sqlite::fence(), in the same write
// transaction, and a stale one is refused (baton::StaleToken) instead of
// overwriting newer data.
//
// The parent starts 8 worker processes (this program with --worker) and
// then checks the data: the values add up to the number of steps, each key
// got exactly the increments the change log says, and no step was logged
// twice. Exit status 0 when everything adds up.
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include <baton/baton.hpp>
#include <baton/sqlite_fence.hpp>

#include "workers.hpp"

namespace {

constexpr int worker_count = 8;
constexpr int steps_per_worker = 40;
constexpr int key_count = 10;

// A connection to DIR/data.db that waits up to 10 s for another writer.
class Database {
 public:
  explicit Database(const std::filesystem::path& file) {
    if (sqlite3_open(file.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open " + file.string());
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  sqlite3* get() const { return db_; }

  // Runs one statement, with `params` bound to ?1, ?2, ... as text (the
  // columns' INTEGER affinity stores numbers as integers).
  void exec(const std::string& sql, std::initializer_list<std::string> params = {}) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    int index = 0;
    for (const auto& p : params) {
      if (rc != SQLITE_OK) break;
      rc = sqlite3_bind_text(stmt, ++index, p.data(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
  }

  // The rows of a two-column query, as text -> integer.
  std::map<std::string, std::int64_t> pairs(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::map<std::string, std::int64_t> rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      rows[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Writes `dict` back as the whole table, and logs the step, in one write
// transaction admitted by the fence. False when the token is stale: the
// transaction is rolled back and nothing of it is written.
bool write_back(Database& db, const std::map<std::string, std::int64_t>& dict, std::uint64_t token, int id,
                int step, const std::string& key) {
  db.exec("BEGIN IMMEDIATE");
  try {
    baton::sqlite::fence(db.get(), "dict", token);
    db.exec("DELETE FROM dict");
    for (const auto& [k, value] : dict) {
      db.exec("INSERT INTO dict(key, value) VALUES(?1, ?2)", {k, std::to_string(value)});
    }
    db.exec("INSERT INTO changes(worker, step, key) VALUES(?1, ?2, ?3)",
            {std::to_string(id), std::to_string(step), key});
    db.exec("COMMIT");
    return true;
  } catch (const baton::StaleToken& e) {
    db.exec("ROLLBACK");
    std::fprintf(stderr, "refused, this process lost the lock: %s\n", e.what());
    return false;
  } catch (...) {
    db.exec("ROLLBACK");
    throw;
  }
}

int worker(int id, const std::filesystem::path& dir) {
  baton::sqlite::Options options;
  options.path = dir / "baton.db";
  baton::LockManager manager(baton::sqlite::make_backend(options));
  baton::Lock lock = manager.resource_lock("table", "dict");
  Database db(dir / "data.db");
  for (int step = 0; step < steps_per_worker;) {
    std::unique_lock guard(lock);  // FIFO among the 8 workers
    auto dict = db.pairs("SELECT key, value FROM dict");
    std::string key = "k";
    key += std::to_string((id * 7 + step) % key_count);
    dict[key] += 1;
    if (write_back(db, dict, lock.token(), id, step, key)) ++step;  // a refused step is done again
  }
  return 0;
}

// The dictionary holds exactly the increments the log records, once each.
bool check(const std::filesystem::path& dir) {
  Database db(dir / "data.db");
  const auto dict = db.pairs("SELECT key, value FROM dict");
  const auto logged = db.pairs("SELECT key, count(*) FROM changes GROUP BY key");
  const auto totals = db.pairs(
      "SELECT 'steps', count(*) FROM changes UNION ALL "
      "SELECT 'distinct', count(*) FROM (SELECT DISTINCT worker, step FROM changes) UNION ALL "
      "SELECT 'sum', coalesce(sum(value), 0) FROM dict");
  const std::int64_t expected = worker_count * steps_per_worker;
  std::printf("%lld steps logged (%lld distinct), values add up to %lld, expected %lld\n",
              static_cast<long long>(totals.at("steps")), static_cast<long long>(totals.at("distinct")),
              static_cast<long long>(totals.at("sum")), static_cast<long long>(expected));
  return totals.at("steps") == expected && totals.at("distinct") == expected && totals.at("sum") == expected &&
         dict == logged;
}

int parent(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (const char* leaf : {"data.db", "data.db-wal", "data.db-shm"}) std::filesystem::remove(dir / leaf);
  {
    Database db(dir / "data.db");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE dict(key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    db.exec("CREATE TABLE changes(worker INTEGER NOT NULL, step INTEGER NOT NULL, key TEXT NOT NULL)");
  }
  if (!example::run_workers(worker_count, {dir.string()})) return 1;
  const bool ok = check(dir);
  std::printf("%s\n", ok ? "nothing lost, nothing duplicated" : "FAILED: the dictionary and its log disagree");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (example::is_worker(argc, argv)) return worker(std::stoi(argv[2]), argc > 3 ? argv[3] : "resource-dict");
    return parent(argc > 1 ? argv[1] : "resource-dict");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resource_dict_sqlite: %s\n", e.what());
    return 1;
  }
}
