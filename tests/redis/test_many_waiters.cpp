// A thousand threads of one process wait on one name through one
// LockManager, against the server $BATON_TEST_REDIS_URL names (skipped
// without it, failed under CI=true): all are served, one at a time, in
// token order, and none fails because the others wait.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "baton/lock_manager.hpp"
#include "baton/redis.hpp"
#include "catch_session.hpp"
#include "many_waiters.hpp"
#include "many_waiters_checks.hpp"
#include "test_support.hpp"

using namespace baton::test;

TEST_CASE("1000 threads of one process waiting on one name are all served", "[scale]") {
  baton::redis::Options options;
  options.url = std::getenv("BATON_TEST_REDIS_URL");
  options.key_prefix = "baton-test:" + random_hex() + ":";
  baton::LockManager manager(baton::redis::make_backend(options));
  check_all_served(serve_many_waiters(manager, "many-waiters", 1000, 90s, 30s));
}

int main(int argc, char** argv) {
  if (auto code = server_or_skip("redis_scale_tests", "BATON_TEST_REDIS_URL", argc, argv)) return *code;
  return run_catch_session(argc, argv);
}
