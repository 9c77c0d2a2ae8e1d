// bench/common.cpp: see common.hpp.
#include "common.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace bench {

Setup setup;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The etcd backend from its plugin, $BATON_BENCH_ETCD_PLUGIN (the installed
// libbaton_etcd.so), loaded through a config as a user's program loads it;
// the cluster is $BATON_TEST_ETCD_ENDPOINTS (comma-separated).
std::shared_ptr<baton::Backend> etcd_backend() {
  static const baton::Config config = [] {
    nlohmann::json endpoints = nlohmann::json::array();
    const std::string list = env("BATON_TEST_ETCD_ENDPOINTS");
    for (std::size_t start = 0; start < list.size();) {
      const auto end = std::min(list.find(',', start), list.size());
      if (end > start) endpoints.push_back(list.substr(start, end - start));
      start = end + 1;
    }
    const nlohmann::json document{{"plugins", {env("BATON_BENCH_ETCD_PLUGIN")}},
                                  {"backend", "etcd"},
                                  {"etcd", {{"endpoints", endpoints}, {"prefix", setup.key_prefix}}}};
    return baton::parse_config(document, "<bench>");
  }();
  return baton::Registry::global().make(config.backend, config.section);
}

std::shared_ptr<baton::Backend> make_backend() {
#if BATON_HAS_POSTGRES
  if (setup.backend == "postgres") {
    baton::postgres::Options o;
    o.dsn = env("BATON_TEST_PG_DSN");
    return baton::postgres::make_backend(o);
  }
#endif
#if BATON_HAS_REDIS
  if (setup.backend == "redis") {
    baton::redis::Options o;
    o.url = env("BATON_TEST_REDIS_URL");
    o.key_prefix = setup.key_prefix;
    return baton::redis::make_backend(o);
  }
#endif
  if (setup.backend == "etcd") return etcd_backend();
  if (setup.backend != "sqlite") {
    std::fprintf(stderr, "bench_suite: backend %s not built or unknown\n", setup.backend.c_str());
    std::exit(exit_usage);
  }
  baton::sqlite::Options o;
  o.path = setup.sqlite_path;
  return baton::sqlite::make_backend(o);
}

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double median(std::vector<double> v) { return pct(std::move(v), 0.5); }

std::vector<double> timed(int iters, const std::function<void()>& fn) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(iters));
  for (int i = 0; i < iters; ++i) {
    const long long t0 = now_ns();
    fn();
    us.push_back(static_cast<double>(now_ns() - t0) / 1000.0);
  }
  return us;
}

void Stats::add(const std::vector<double>& us) {
  p50.push_back(pct(us, 0.5));
  p99.push_back(pct(us, 0.99));
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

void sqlite_exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s\n", err);
    std::abort();
  }
}

bool step_done(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE;
}

#if BATON_HAS_REDIS
redisContext* redis_connect() {
  const std::string url = env("BATON_TEST_REDIS_URL");
  const auto hostport = url.substr(8, url.find('/', 8) - 8);
  const auto colon = hostport.rfind(':');
  return redisConnect(hostport.substr(0, colon).c_str(), std::stoi(hostport.substr(colon + 1)));
}
#endif

bool all_exited_cleanly(const std::vector<pid_t>& children) {
  bool clean = true;
  for (pid_t child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) clean = false;
  }
  return clean;
}

}  // namespace bench
