// The conformance suite on the Redis backend, against the server that
// $BATON_TEST_REDIS_URL names (scripts/test.sh starts a throwaway one). Every
// process of one run shares a key prefix unique to the run
// ($BATON_TEST_REDIS_PREFIX, set here when unset; helpers inherit it).
// Without a URL the tests are skipped (exit 77), except under CI=true.
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include <baton/conformance.hpp>
#include <baton/redis.hpp>

#include "server_suite.hpp"
#include "test_support.hpp"

int main(int argc, char** argv) {
  const char* url = std::getenv("BATON_TEST_REDIS_URL");
  if (auto code = baton::test::server_or_skip("conformance_redis", "BATON_TEST_REDIS_URL", argc, argv)) return *code;
  if (const char* p = std::getenv("BATON_TEST_REDIS_PREFIX"); p == nullptr || *p == '\0') {
    const std::string prefix = "baton-conformance:" + std::to_string(::getpid()) + "-" +
                               std::to_string(std::random_device{}()) + ":";
    ::setenv("BATON_TEST_REDIS_PREFIX", prefix.c_str(), 1);
  }
  baton::redis::Options options, unreachable;
  options.url = url ? url : "";
  options.key_prefix = std::getenv("BATON_TEST_REDIS_PREFIX");
  unreachable.url = "redis://127.0.0.1:1/0";  // nothing listens on port 1
  return baton::conformance::main(argc, argv,
                                  baton::test::server_suite("redis", options, unreachable, baton::redis::make_backend));
}
