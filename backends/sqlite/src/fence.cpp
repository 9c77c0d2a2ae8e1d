// fence.cpp: baton::sqlite::fence(), the check of a fencing token at the
// resource, on the caller's own connection and inside its transaction.
#include "baton/sqlite_fence.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>

#include "baton/error.hpp"
#include "sqlite_error.hpp"

namespace baton::sqlite {
namespace {

constexpr const char* create_sql =
    "CREATE TABLE IF NOT EXISTS baton_fences(resource TEXT PRIMARY KEY NOT NULL, token INTEGER NOT NULL)";
// Check and record in one statement: the row changes (sqlite3_changes() is
// 1) exactly when the token is admitted.
constexpr const char* admit_sql =
    "INSERT INTO baton_fences(resource, token) VALUES(?1, ?2) ON CONFLICT(resource) "
    "DO UPDATE SET token = excluded.token WHERE excluded.token >= baton_fences.token";
constexpr const char* highest_sql = "SELECT token FROM baton_fences WHERE resource = ?1";

// One prepared statement, finalized on every path out.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    const int rc = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(rc);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Not copied: `value` must outlive the statement.
  void bind_text(int index, std::string_view value) {
    // An empty view may have no data(); a null pointer would bind NULL.
    const char* text = value.data() != nullptr ? value.data() : "";
    const int rc = sqlite3_bind_text(stmt_, index, text, static_cast<int>(value.size()), SQLITE_STATIC);
    if (rc != SQLITE_OK) fail(rc);
  }
  void bind_int64(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) fail(rc);
  }
  // Steps once: true with a row, false when done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(rc);
    return false;
  }
  std::int64_t column(int i) const { return sqlite3_column_int64(stmt_, i); }

 private:
  [[noreturn]] void fail(int rc) const {
    const char* file = sqlite3_db_filename(db_, "main");
    detail::raise_sqlite_error(rc, sqlite3_errmsg(db_), file != nullptr ? file : "", "fence");
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void check_arguments(sqlite3* db, std::string_view resource, std::uint64_t token) {
  if (db == nullptr) throw std::invalid_argument("baton::sqlite::fence: null connection");
  if (token == 0) throw std::invalid_argument("baton::sqlite::fence: token 0 is no grant's token");
  if (token > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw std::invalid_argument("baton::sqlite::fence: token above INT64_MAX");
  if (resource.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::invalid_argument("baton::sqlite::fence: resource name too long");
  if (sqlite3_get_autocommit(db) != 0)
    throw std::logic_error("baton::sqlite::fence: called outside a transaction (BEGIN first, on the same connection)");
}

}  // namespace

void fence(sqlite3* db, std::string_view resource, std::uint64_t token) {
  check_arguments(db, resource, token);
  Statement(db, create_sql).step();
  const auto value = static_cast<std::int64_t>(token);
  {
    Statement admit(db, admit_sql);
    admit.bind_text(1, resource);
    admit.bind_int64(2, value);
    admit.step();
    if (sqlite3_changes(db) == 1) return;
  }
  Statement highest(db, highest_sql);
  highest.bind_text(1, resource);
  const std::int64_t seen = highest.step() ? highest.column(0) : 0;
  throw StaleToken(std::string(resource), token, static_cast<std::uint64_t>(seen));
}

}  // namespace baton::sqlite
