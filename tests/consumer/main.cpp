#include <baton/conformance.hpp>
#include <baton/sqlite.hpp>

int main(int argc, char** argv) {
  baton::conformance::Suite suite;
  suite.name = "sqlite (installed)";
  suite.make_backend = [] { return baton::sqlite::make_backend({.path = "consumer-conformance.db"}); };
  return baton::conformance::main(argc, argv, suite);
}
