// fence_holder: one holder of the classic fencing scenario, as a real
// process. Usage: fence_holder LOCK_DB DATA_DB LOCK_NAME DIR
//
// Takes LOCK_NAME (1 s lease) in LOCK_DB, writes "first" to the account row
// of DATA_DB through baton::sqlite::fence() with its token, and reports the
// token in DIR/ready. Then it waits (a test SIGSTOPs it here, past its
// lease) for DIR/go, and writes "late" the same way with the same token,
// journalling the attempt in the same transaction. It reports in DIR/result
// "written" or "stale <token> <highest>" and exits 0 or 3 (2: anything
// else, said on stderr).
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "baton/error.hpp"
#include "baton/lock_manager.hpp"
#include "baton/sqlite.hpp"
#include "baton/sqlite_fence.hpp"
#include "fence_holder.hpp"

namespace fs = std::filesystem;

namespace {

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = sql + ": " + (err != nullptr ? err : "");
    sqlite3_free(err);
    throw std::runtime_error(message);
  }
}

// One fenced transaction: the account's owner becomes `who`, and the
// journal records the attempt.
void fenced_write(sqlite3* db, std::uint64_t token, const std::string& who) {
  exec(db, "BEGIN IMMEDIATE");
  try {
    exec(db, "INSERT INTO journal(who, token) VALUES('" + who + "', " + std::to_string(token) + ")");
    baton::sqlite::fence(db, "account", token);
    exec(db, "UPDATE account SET owner = '" + who + "', token = " + std::to_string(token));
    exec(db, "COMMIT");
  } catch (...) {
    exec(db, "ROLLBACK");
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 5) {
    std::cerr << "usage: fence_holder LOCK_DB DATA_DB LOCK_NAME DIR\n";
    return 2;
  }
  const fs::path dir = argv[4];
  baton::sqlite::Options options;
  options.path = argv[1];
  baton::LockManager manager(baton::sqlite::make_backend(options));
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open(argv[2], &raw);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> owned(raw, &sqlite3_close);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + std::string(argv[2]));
  sqlite3* db = owned.get();
  sqlite3_busy_timeout(db, 5000);
  return baton::test::hold_then_write_late(manager, argv[3], dir, [db](std::uint64_t token, const std::string& who) {
    fenced_write(db, token, who);
  });
} catch (const std::exception& e) {
  std::cerr << "fence_holder: " << e.what() << "\n";
  return 2;
}
