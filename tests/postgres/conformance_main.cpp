// The conformance suite on the PostgreSQL backend, against the server that
// $BATON_TEST_PG_DSN names (scripts/test.sh starts a throwaway one). Without
// it the tests are skipped (exit 77), except under CI=true, where a backend
// that cannot be tested is a failure.
#include <cstdlib>
#include <string>
#include <string_view>

#include <baton/conformance.hpp>
#include <baton/postgres.hpp>

#include "test_support.hpp"

int main(int argc, char** argv) {
  const char* dsn = std::getenv("BATON_TEST_PG_DSN");
  if (auto code = baton::test::server_or_skip("conformance_postgres", "BATON_TEST_PG_DSN", argc, argv)) return *code;
  baton::conformance::Suite suite;
  suite.name = "postgres";
  suite.frees_on_disconnect = true;
  suite.make_backend = [dsn = std::string(dsn ? dsn : "")] {
    baton::postgres::Options options;
    options.dsn = dsn;
    return baton::postgres::make_backend(options);
  };
  suite.make_unreachable_backend = [] {
    baton::postgres::Options options;
    options.dsn = "postgresql://postgres@127.0.0.1:1/baton_test";  // nothing listens on port 1
    options.connect_timeout = std::chrono::milliseconds(1000);
    return baton::postgres::make_backend(options);
  };
  suite.unreachable_bound = std::chrono::milliseconds(3000);
  return baton::conformance::main(argc, argv, suite);
}
