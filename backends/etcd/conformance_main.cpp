// The conformance suite on the etcd backend, against the cluster that
// $BATON_TEST_ETCD_ENDPOINTS names (comma-separated client URLs). Every
// process of one run shares a key prefix unique to the run
// ($BATON_TEST_ETCD_PREFIX, set here when unset; helpers inherit it).
// Without endpoints the run is skipped (exit 77), except under CI=true,
// where an untested backend is a failure.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <string_view>

#include <baton/conformance.hpp>

#include "etcd_backend.hpp"

namespace {

constexpr const char* endpoints_env = "BATON_TEST_ETCD_ENDPOINTS";
constexpr const char* prefix_env = "BATON_TEST_ETCD_PREFIX";

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool listing(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).substr(0, 6) == "--list") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const char* endpoints = std::getenv(endpoints_env);
  if ((endpoints == nullptr || *endpoints == '\0') && !listing(argc, argv)) {
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::string_view(ci) == "true";
    std::fprintf(stderr, "etcd_conformance: %s is not set%s\n", endpoints_env,
                 in_ci ? "; CI=true, so this is a failure" : "; skipping");
    return in_ci ? 1 : 77;
  }
  if (const char* p = std::getenv(prefix_env); p == nullptr || *p == '\0') {
    const std::string prefix =
        "baton-conformance/" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()) + "/";
    ::setenv(prefix_env, prefix.c_str(), 1);
  }
  baton::etcd::Options options, unreachable;
  options.endpoints = split(endpoints ? endpoints : "");
  options.prefix = std::getenv(prefix_env);
  unreachable.endpoints = {"http://127.0.0.1:1"};  // nothing listens on port 1

  baton::conformance::Suite suite;
  suite.name = "etcd";
  suite.make_backend = [options] { return baton::etcd::make_backend(options); };
  suite.dead_waiter_bound = std::chrono::seconds(5);
  suite.survives_restart = true;
  suite.make_unreachable_backend = [unreachable] { return baton::etcd::make_backend(unreachable); };
  suite.unreachable_bound = std::chrono::seconds(5);
  return baton::conformance::main(argc, argv, suite);
}
