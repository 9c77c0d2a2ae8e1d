// Hand-off latency: the time from a holder's release() to the next waiter's
// grant, the waiter in another process. Both read CLOCK_MONOTONIC, which is
// one clock for every process of the host.
//
//   bench_handoff BACKEND [ROUNDS]     BACKEND: sqlite | postgres | redis
//
// Prints one JSON object: {"backend":..,"rounds":..,"p50_us":..,"p90_us":..,
// "p99_us":..,"max_us":..}. Servers come from $BATON_TEST_PG_DSN and
// $BATON_TEST_REDIS_URL, as for the tests.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <baton/baton.hpp>

namespace {

using namespace std::chrono_literals;

std::shared_ptr<baton::Backend> make(const std::string& kind, const std::string& sqlite_path,
                                     const std::string& prefix) {
#if BATON_HAS_POSTGRES
  if (kind == "postgres") {
    baton::postgres::Options o;
    o.dsn = std::getenv("BATON_TEST_PG_DSN");
    return baton::postgres::make_backend(o);
  }
#endif
#if BATON_HAS_REDIS
  if (kind == "redis") {
    baton::redis::Options o;
    o.url = std::getenv("BATON_TEST_REDIS_URL");
    o.key_prefix = prefix;
    return baton::redis::make_backend(o);
  }
#endif
  (void)prefix;
  baton::sqlite::Options o;
  o.path = sqlite_path;
  return baton::sqlite::make_backend(o);
}

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void write_all(int fd, const void* p, size_t n) {
  if (::write(fd, p, n) != static_cast<ssize_t>(n)) std::abort();
}
void read_all(int fd, void* p, size_t n) {
  if (::read(fd, p, n) != static_cast<ssize_t>(n)) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_handoff sqlite|postgres|redis [ROUNDS]\n");
    return 64;
  }
  const std::string kind = argv[1];
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 300;
  const auto dir = std::filesystem::temp_directory_path() / ("baton-handoff-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "handoff.db").string();
  const std::string prefix = "baton-bench-handoff:" + std::to_string(::getpid()) + ":";
  const std::string name = "handoff-" + std::to_string(::getpid());

  int to_child[2], to_parent[2];
  if (::pipe(to_child) != 0 || ::pipe(to_parent) != 0) return 70;
  const pid_t child = ::fork();
  if (child == 0) {
    // The waiter: on each go, acquire (blocking), report the grant time, release.
    baton::LockManager manager(make(kind, db, prefix));
    auto lock = manager.lock(name);
    for (int i = 0; i < rounds; ++i) {
      char go;
      read_all(to_child[0], &go, 1);
      lock.acquire();
      const long long granted = now_ns();
      write_all(to_parent[1], &granted, sizeof granted);
      lock.release();
    }
    std::_Exit(0);
  }
  baton::LockManager manager(make(kind, db, prefix));
  auto lock = manager.lock(name);
  std::vector<double> us;
  for (int i = 0; i < rounds; ++i) {
    lock.acquire();
    write_all(to_child[1], "g", 1);
    // The waiter must be queued before the release is timed.
    while (manager.inspect(name).waiters < 1) std::this_thread::sleep_for(200us);
    const long long released = now_ns();
    lock.release();
    long long granted = 0;
    read_all(to_parent[0], &granted, sizeof granted);
    us.push_back(static_cast<double>(granted - released) / 1000.0);
    // Let the waiter release before the next round.
    while (manager.inspect(name).held) std::this_thread::sleep_for(100us);
  }
  ::waitpid(child, nullptr, 0);
  std::filesystem::remove_all(dir);
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))]; };
  std::printf("{\"backend\":\"%s\",\"rounds\":%d,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
              kind.c_str(), rounds, pct(0.5), pct(0.9), pct(0.99), us.back());
  return 0;
}
