// The conformance suite on the SQLite backend. Every process of one run (the
// test process and the helpers it re-executes) must open the same database:
// the path travels in $BATON_CONFORMANCE_SQLITE_DB, set here to a fresh temp
// file when it is not set already (helpers inherit it).
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <baton/conformance.hpp>
#include <baton/sqlite.hpp>

namespace {

constexpr const char* db_env = "BATON_CONFORMANCE_SQLITE_DB";

// Removes the temp directory this process created (not one it inherited).
struct OwnedTempDir {
  std::filesystem::path path;
  ~OwnedTempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

int main(int argc, char** argv) {
  OwnedTempDir owned;
  if (const char* set = std::getenv(db_env); set == nullptr || *set == '\0') {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/baton-conformance-sqlite-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) return 70;
    owned.path = templ;
    ::setenv(db_env, (owned.path / "baton.db").c_str(), 1);
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
