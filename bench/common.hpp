// bench/common.hpp: what every measure and floor of bench_suite shares: the
// backend under test, timing and percentiles, memory shared across fork(),
// futexes, and small SQLite and Redis helpers.
#pragma once

#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <baton/baton.hpp>

#if BATON_HAS_REDIS
#include <hiredis/hiredis.h>
#endif

namespace bench {

// Set once by main(), before any measure runs.
struct Setup {
  std::string backend;     // "sqlite", "postgres", "redis" or "etcd"
  std::string sqlite_path;  // a fresh database file under $TMPDIR
  std::string key_prefix;   // Redis keys of this run
};
extern Setup setup;

// Exit statuses of bench_suite.
inline constexpr int exit_usage = 64;
inline constexpr int exit_failed = 70;

// $name, or "" when unset.
std::string env(const char* name);

// A baton backend of setup.backend: servers from $BATON_TEST_PG_DSN,
// $BATON_TEST_REDIS_URL and $BATON_TEST_ETCD_ENDPOINTS, as for the tests
// (etcd from its plugin, $BATON_BENCH_ETCD_PLUGIN). Exits 64 for a backend
// that is unknown or not built.
std::shared_ptr<baton::Backend> make_backend();

// CLOCK_MONOTONIC in nanoseconds.
long long now_ns();

// The p-quantile of `v` (0 for an empty one), and its median.
double pct(std::vector<double> v, double p);
double median(std::vector<double> v);

// Times `iters` calls of fn; returns per-call microseconds.
std::vector<double> timed(int iters, const std::function<void()>& fn);

// The p50 and p99 of each run, for the medians over runs.
struct Stats {
  std::vector<double> p50, p99;
  void add(const std::vector<double>& us);
};

// `n` value-initialised objects in memory shared by forked processes (and
// their threads). Never freed: the process ends with the measure.
template <class T>
T* shared(std::size_t n = 1) {
  void* p = ::mmap(nullptr, sizeof(T) * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) std::abort();
  return new (p) T[n]();
}

// The futex system call on `word` (FUTEX_WAIT or FUTEX_WAKE).
long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout = nullptr);

// Runs `sql`, aborting with SQLite's message on failure.
void sqlite_exec(sqlite3* db, const char* sql);

// Steps a prepared statement that returns no rows, then resets it: true
// when it ran to completion.
bool step_done(sqlite3_stmt* s);

#if BATON_HAS_REDIS
// A plain hiredis connection to $BATON_TEST_REDIS_URL (redis://host:port/db,
// without credentials); null or with err set on failure.
redisContext* redis_connect();
#endif

// Waits for every pid in `children`; true when all exited with status 0.
bool all_exited_cleanly(const std::vector<pid_t>& children);

}  // namespace bench
