// bench/measures.cpp: the measures of baton's own locks, each beside its
// floor where there is one (floors.hpp).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "floors.hpp"
#include "handoff.hpp"

namespace bench {

using namespace std::chrono_literals;

// acquire+release of one Lock, a new Lock's acquire+release (made and
// destroyed each time, as a worker that makes a Lock per task does), and
// each floor, in alternating runs of `iters` iterations after a warm-up
// (connections, prepared statements, caches). The reported p50/p99 are the
// medians over `runs` runs.
int cmd_uncontended(int runs, int iters) {
  baton::LockManager manager(make_backend());
  const std::string name = "bench-uncontended-" + std::to_string(::getpid());
  auto lock = manager.lock(name);
  auto baton_pair = [&] {
    lock.acquire();
    lock.release();
  };
  auto new_lock_pair = [&] {
    auto fresh = manager.lock(name);
    fresh.acquire();
    fresh.release();
  };
  auto floors = uncontended_floors();
  timed(iters / 5 + 10, baton_pair);
  timed(iters / 5 + 10, new_lock_pair);
  for (auto& [n, f] : floors) timed(iters / 5 + 10, f.pair);
  Stats b, fresh;
  std::vector<Stats> fs(floors.size());
  for (int r = 0; r < runs; ++r) {
    b.add(timed(iters, baton_pair));
    fresh.add(timed(iters, new_lock_pair));
    for (size_t i = 0; i < floors.size(); ++i) fs[i].add(timed(iters, floors[i].second.pair));
  }
  std::printf("{\"backend\":\"%s\",\"runs\":%d,\"iters\":%d,\"uncontended_us_p50\":%.2f,\"uncontended_us_p99\":%.2f",
              setup.backend.c_str(), runs, iters, median(b.p50), median(b.p99));
  std::printf(",\"new_lock_us_p50\":%.2f,\"new_lock_us_p99\":%.2f,\"new_lock_ratio_to_reused\":%.3f",
              median(fresh.p50), median(fresh.p99), median(fresh.p50) / median(b.p50));
  for (size_t i = 0; i < floors.size(); ++i) {
    std::printf(",\"%s_us_p50\":%.2f,\"%s_us_p99\":%.2f", floors[i].first.c_str(), median(fs[i].p50),
                floors[i].first.c_str(), median(fs[i].p99));
    floors[i].second.close();
  }
  std::printf(",\"ratio_to_floor\":%.3f}\n", median(b.p50) / median(fs[0].p50));
  return 0;
}

namespace {

// Until `inspector` sees `name` with at least `waiters` waiters (and, with
// `held`, a holder), or the measure is over.
void await_waiters(const HandoffMeasure& m, baton::LockManager& inspector, const std::string& name, int waiters,
                   bool held, std::chrono::microseconds pause) {
  for (;;) {
    const auto info = inspector.inspect(name);
    if (((info.held || !held) && static_cast<int>(info.waiters) >= waiters) || m.shared->done) return;
    std::this_thread::sleep_for(pause);
  }
}

// Participant i of the baton hand-off: its own manager and Lock; queues
// once 0..i-1 are in, then takes turns until the measure is over.
void baton_handoff_participant(const HandoffMeasure& m, const std::string& name, baton::LockManager& inspector,
                               int i) {
  await_turn(m, i);
  baton::LockManager manager(make_backend());
  auto lock = manager.lock(name);
  if (i > 0) await_waiters(m, inspector, name, i - 1, /*held=*/true, 200us);
  for (bool first = true;; first = false) {
    if (first) {
      if (i > 0) m.shared->turn = i + 1;
      lock.acquire();
      if (i == 0) m.shared->turn = 1;
    } else {
      lock.acquire();
    }
    if (record_grant(m)) {
      lock.release();
      return;
    }
    // Hold for hold_us, and release only with the full queue behind us.
    std::this_thread::sleep_for(std::chrono::microseconds(m.hold_us));
    await_waiters(m, inspector, name, m.depth, /*held=*/false, 100us);
    m.shared->released_ns = now_ns();
    lock.release();
  }
}

}  // namespace

int cmd_handoff(int depth, int rounds, int hold_us) {
  const std::string name = "handoff-" + std::to_string(depth) + "-" + std::to_string(::getpid());
  const HandoffMeasure m = new_handoff_measure("handoff", depth, rounds, hold_us);
  // One inspector per process, shared by its participants' threads.
  auto make_participant = [&] {
    auto inspector = std::make_shared<baton::LockManager>(make_backend());
    return std::function<void(int)>([&, inspector](int i) { baton_handoff_participant(m, name, *inspector, i); });
  };
  return run_handoff(m, make_participant);
}

namespace {

struct ContentionShared {
  std::atomic<int> ready;
  std::atomic<long long> start_ns;
  std::atomic<long long> stop_ns;
  long long grants[64];
};

// One contending process: warms up its Lock, waits for the common start,
// then loops acquire/release until the stop time. Exits the process.
[[noreturn]] void contention_process(ContentionShared* sh, const std::string& name, int p) {
  int rc = 0;
  try {
    baton::LockManager manager(make_backend());
    auto lock = manager.lock(name);
    lock.acquire();  // connect, prepare
    lock.release();
    sh->ready += 1;
    while (sh->start_ns.load() == 0) std::this_thread::sleep_for(100us);
    const long long stop = sh->stop_ns.load();
    long long n = 0;
    for (;;) {
      lock.acquire();
      const long long t = now_ns();
      lock.release();
      if (t >= stop) break;
      ++n;
    }
    sh->grants[p] = n;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_suite contention: %s\n", e.what());
    rc = exit_failed;
  }
  std::_Exit(rc);
}

void print_contention(const ContentionShared* sh, int procs, double seconds) {
  long long total = 0, mx = 0, mn = -1;
  std::string per;
  for (int p = 0; p < procs; ++p) {
    total += sh->grants[p];
    mx = std::max(mx, sh->grants[p]);
    mn = mn < 0 ? sh->grants[p] : std::min(mn, sh->grants[p]);
    if (p > 0) per += ',';
    per += std::to_string(sh->grants[p]);
  }
  std::printf("{\"backend\":\"%s\",\"procs\":%d,\"seconds\":%.1f,\"grants_per_s\":%.0f,\"fairness_max_min\":%.3f,"
              "\"grants\":[%s]}\n",
              setup.backend.c_str(), procs, seconds, static_cast<double>(total) / seconds,
              mn > 0 ? static_cast<double>(mx) / static_cast<double>(mn) : 0.0, per.c_str());
}

}  // namespace

// PROCS processes loop acquire/release on one name for SECONDS, starting
// together; total grants/s and max/min grants per process.
int cmd_contention(int procs, double seconds) {
  const std::string name = "contention-" + std::to_string(procs) + "-" + std::to_string(::getpid());
  auto* sh = shared<ContentionShared>();
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) contention_process(sh, name, p);
    kids.push_back(pid);
  }
  while (sh->ready.load() < procs) std::this_thread::sleep_for(1ms);
  const long long start = now_ns() + 20'000'000;
  sh->stop_ns = start + static_cast<long long>(seconds * 1e9);
  sh->start_ns = start;
  if (!all_exited_cleanly(kids)) return exit_failed;
  print_contention(sh, procs, seconds);
  return 0;
}

// Lock and release NAMES distinct names (2 threads), then the uncontended
// measure again, on a new name and on one among the many.
int cmd_many_names(int names) {
  const std::string base = "many-" + std::to_string(::getpid()) + "-";
  const long long t0 = now_ns();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      baton::LockManager manager(make_backend());
      for (int i = t; i < names; i += 2) {
        auto lock = manager.lock(base + std::to_string(i));
        lock.acquire();
        lock.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  const double fill_s = static_cast<double>(now_ns() - t0) / 1e9;
  baton::LockManager manager(make_backend());
  auto lock = manager.lock(base + "probe");
  auto pair = [&] {
    lock.acquire();
    lock.release();
  };
  timed(200, pair);
  Stats b;
  for (int r = 0; r < 5; ++r) b.add(timed(1000, pair));
  auto old = manager.lock(base + std::to_string(names / 2));
  auto old_us = timed(1000, [&] {
    old.acquire();
    old.release();
  });
  std::printf("{\"backend\":\"%s\",\"names\":%d,\"fill_s\":%.1f,\"many_names_us_p50\":%.2f,"
              "\"many_names_us_p99\":%.2f,\"old_name_us_p50\":%.2f}\n",
              setup.backend.c_str(), names, fill_s, median(b.p50), median(b.p99), pct(old_us, 0.5));
  return 0;
}

// LOCKS locks of distinct names held by one manager with TTL_MS leases for
// SECONDS, renewed by its renewal thread: how many were lost meanwhile, and
// the leases' least time left at the end (a renewal that fell behind shows
// there first).
int cmd_held(int locks, int ttl_ms, double seconds) {
  baton::LockManager manager(make_backend());
  const std::string base = "held-" + std::to_string(::getpid()) + "-";
  std::atomic<int> lost{0};
  std::vector<baton::Lock> held;
  held.reserve(static_cast<std::size_t>(locks));
  const long long t0 = now_ns();
  for (int i = 0; i < locks; ++i) {
    held.push_back(manager.lock(base + std::to_string(i), {.ttl = std::chrono::milliseconds(ttl_ms),
                                                            .on_lost = [&](std::string_view, std::uint64_t) { ++lost; }}));
    held.back().acquire();
  }
  const double fill_s = static_cast<double>(now_ns() - t0) / 1e9;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  int holding = 0;
  for (auto& lock : held) holding += lock.holds() ? 1 : 0;
  std::printf("{\"backend\":\"%s\",\"measure\":\"held\",\"locks\":%d,\"ttl_ms\":%d,\"seconds\":%.0f,"
              "\"fill_s\":%.1f,\"lost\":%d,\"holding\":%d}\n",
              setup.backend.c_str(), locks, ttl_ms, seconds, fill_s, lost.load(), holding);
  return lost.load() == 0 && holding == locks ? 0 : exit_failed;
}

}  // namespace bench
