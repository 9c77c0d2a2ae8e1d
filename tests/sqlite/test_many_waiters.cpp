// A thousand threads of one process wait on one name through one
// LockManager: all are served, one at a time, in token order, and none
// fails because the others wait (docs/design.md §3.3).
#include <catch2/catch.hpp>

#include "baton/lock_manager.hpp"
#include "baton/sqlite.hpp"
#include "many_waiters.hpp"
#include "many_waiters_checks.hpp"
#include "test_support.hpp"

using namespace baton::test;

TEST_CASE("1000 threads of one process waiting on one name are all served", "[scale]") {
  TempDir dir("baton-scale");
  baton::sqlite::Options options;
  options.path = dir / "baton.db";
  baton::LockManager manager(baton::sqlite::make_backend(options));
  check_all_served(serve_many_waiters(manager, "many-waiters", 1000, 90s, 30s));
}
