// raw_sqlite.hpp: a plain SQLite connection of a test's own, for peeking
// into and poking at a database file beside the backend.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace baton::test {

// One connection, with a 10 s busy timeout. Not copyable, not movable. Its
// REQUIREs make it a main-thread helper, except run(), which only returns.
struct RawSqlite {
  sqlite3* db = nullptr;

  explicit RawSqlite(const std::filesystem::path& path) {
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
  }
  RawSqlite(const RawSqlite&) = delete;
  RawSqlite& operator=(const RawSqlite&) = delete;
  ~RawSqlite() { sqlite3_close(db); }

  // Runs `sql`; returns SQLite's result code (its message in `error`).
  int run(const std::string& sql, std::string* error = nullptr) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    if (error != nullptr && err != nullptr) *error = err;
    sqlite3_free(err);
    return rc;
  }
  // Runs `sql`, which must succeed.
  void exec(const std::string& sql) {
    std::string error;
    const int rc = run(sql, &error);
    INFO(sql << ": " << error);
    REQUIRE(rc == SQLITE_OK);
  }
  // The first column of the first row as int64 (0 without a row; -1 for NULL).
  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = prepare(sql);
    std::int64_t v = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW)
      v = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
  }
  // The first column of the first row as text ("" without a row or for NULL).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = prepare(sql);
    std::string v;
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr)
      v = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return v;
  }

 private:
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    INFO(sql << ": " << sqlite3_errmsg(db));
    REQUIRE(rc == SQLITE_OK);
    return stmt;
  }
};

}  // namespace baton::test
