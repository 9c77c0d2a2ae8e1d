// The conformance suite on the SQLite backend. Every process of one run (the
// test process and the helpers it re-executes) must open the same database:
// the path travels in $BATON_CONFORMANCE_SQLITE_DB, set here to a fresh temp
// file when it is not set already (helpers inherit it).
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include <baton/conformance.hpp>
#include <baton/sqlite.hpp>

#include "test_support.hpp"

namespace {

constexpr const char* db_env = "BATON_CONFORMANCE_SQLITE_DB";

}  // namespace

int main(int argc, char** argv) {
  // The temp directory this process created (not one it inherited), removed
  // when the run ends.
  std::optional<baton::test::TempDir> owned;
  if (const char* set = std::getenv(db_env); set == nullptr || *set == '\0') {
    owned.emplace("baton-conformance-sqlite");
    ::setenv(db_env, (*owned / "baton.db").c_str(), 1);
  }
  const std::filesystem::path db = std::getenv(db_env);

  baton::conformance::Suite suite;
  suite.name = "sqlite";
  suite.make_backend = [db] {
    baton::sqlite::Options options;
    options.path = db;
    return baton::sqlite::make_backend(options);
  };
  suite.make_unreachable_backend = [db] {
    baton::sqlite::Options options;
    options.path = db.parent_path() / "no-such-directory" / "baton.db";
    return baton::sqlite::make_backend(options);
  };
  return baton::conformance::main(argc, argv, suite);
}
