// bench/lock_set.cpp: the lock_set measure: a LockSet of three names taken
// and released, against three single Locks of the same names taken and
// released one after the other, and against the bare primitive's pair three
// times (floors.hpp), in alternating runs on one manager, uncontended.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "floors.hpp"

namespace bench {

namespace {

// The three names of this run, distinct from every other run's.
std::vector<std::string> set_names() {
  const std::string base = "bench-set-" + std::to_string(::getpid()) + "-";
  return {base + "a", base + "b", base + "c"};
}

void print_lock_set(int runs, int iters, const Stats& set, const Stats& singles, const Stats& floor) {
  const double s = median(set.p50), one = median(singles.p50), f = median(floor.p50);
  std::printf("{\"backend\":\"%s\",\"measure\":\"lock_set\",\"names\":3,\"runs\":%d,\"iters\":%d,"
              "\"set_us_p50\":%.2f,\"set_us_p99\":%.2f,\"singles_us_p50\":%.2f,\"singles_us_p99\":%.2f,"
              "\"floor3_us_p50\":%.2f,\"floor3_us_p99\":%.2f,\"set_to_singles\":%.3f,\"set_to_floor3\":%.3f,"
              "\"singles_to_floor3\":%.3f}\n",
              setup.backend.c_str(), runs, iters, s, median(set.p99), one, median(singles.p99), f,
              median(floor.p99), s / one, s / f, one / f);
}

}  // namespace

// Every iteration is timed; the reported p50/p99 are the medians over
// `runs` runs of `iters` iterations of each kind, after a warm-up.
int cmd_lock_set(int runs, int iters) {
  baton::LockManager manager(make_backend());
  const auto names = set_names();
  auto set = manager.lock_set(names);
  std::vector<baton::Lock> singles;
  for (const auto& n : names) singles.push_back(manager.lock(n));
  auto set_pair = [&] {
    set.acquire();
    set.release();
  };
  auto singles_pairs = [&] {
    for (auto& lock : singles) {
      lock.acquire();
      lock.release();
    }
  };
  auto floors = uncontended_floors();
  auto& floor = floors.front().second;
  auto floor_pairs = [&] {
    for (int i = 0; i < 3; ++i) floor.pair();
  };
  timed(iters / 5 + 10, set_pair);
  timed(iters / 5 + 10, singles_pairs);
  timed(iters / 5 + 10, floor_pairs);
  Stats s, one, f;
  for (int r = 0; r < runs; ++r) {
    s.add(timed(iters, set_pair));
    one.add(timed(iters, singles_pairs));
    f.add(timed(iters, floor_pairs));
  }
  for (auto& [name, fl] : floors) fl.close();
  print_lock_set(runs, iters, s, one, f);
  return 0;
}

}  // namespace bench
