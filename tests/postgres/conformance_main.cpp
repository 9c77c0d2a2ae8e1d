// The conformance suite on the PostgreSQL backend, against the server that
// $BATON_TEST_PG_DSN names (scripts/test.sh starts a throwaway one). Without
// it the tests are skipped (exit 77), except under CI=true, where a backend
// that cannot be tested is a failure.
#include <cstdlib>

#include <baton/conformance.hpp>
#include <baton/postgres.hpp>

#include "server_suite.hpp"
#include "test_support.hpp"

int main(int argc, char** argv) {
  const char* dsn = std::getenv("BATON_TEST_PG_DSN");
  if (auto code = baton::test::server_or_skip("conformance_postgres", "BATON_TEST_PG_DSN", argc, argv)) return *code;
  baton::postgres::Options options, unreachable;
  options.dsn = dsn ? dsn : "";
  unreachable.dsn = "postgresql://postgres@127.0.0.1:1/baton_test";  // nothing listens on port 1
  auto suite = baton::test::server_suite("postgres", options, unreachable, baton::postgres::make_backend);
  suite.frees_on_disconnect = true;
  return baton::conformance::main(argc, argv, suite);
}
