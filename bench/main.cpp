// bench/main.cpp: the benchmark suite behind scripts/bench.sh: one backend,
// one measure, one JSON object on stdout. The measures of baton's locks are
// in measures.cpp, the bare primitives they are compared with in floors.cpp,
// handoff_floor.cpp and contention_floor.cpp.
//
//   bench_suite BACKEND uncontended [RUNS] [ITERS]
//   bench_suite BACKEND handoff DEPTH [ROUNDS] [HOLD_US]
//   bench_suite BACKEND handoff_floor DEPTH [ROUNDS] [HOLD_US]
//   bench_suite postgres handoff_floor_fenced DEPTH [ROUNDS] [HOLD_US]
//   bench_suite sqlite handoff_floor_wake DEPTH [ROUNDS] [HOLD_US]
//   bench_suite BACKEND contention PROCS [SECONDS]
//   bench_suite sqlite contention_floor PROCS [SECONDS] [WRITES]
//   bench_suite BACKEND many_names [NAMES]
//   bench_suite BACKEND held [LOCKS] [TTL_MS] [SECONDS]
//   bench_suite BACKEND lock_set [RUNS] [ITERS]
//   bench_suite BACKEND fence [RUNS] [ITERS]
//
// BACKEND: sqlite | postgres | redis | etcd. Servers come from
// $BATON_TEST_PG_DSN, $BATON_TEST_REDIS_URL and $BATON_TEST_ETCD_ENDPOINTS,
// as for the tests (etcd through its installed plugin,
// $BATON_BENCH_ETCD_PLUGIN); SQLite uses a fresh file under $TMPDIR.
//
// uncontended: acquire+release of one Lock, and the floor (the bare primitive
//   pair on the same kind of connection), in alternating runs of ITERS
//   iterations; every iteration is timed, so p50 and p99 are per pair. The
//   reported p50/p99 are the medians over RUNS runs.
//     sqlite:   two write transactions, BEGIN IMMEDIATE; write one row; COMMIT
//               (floor) and two empty BEGIN IMMEDIATE; COMMIT (floor_empty)
//     postgres: SELECT pg_advisory_lock(k) + SELECT pg_advisory_unlock(k)
//               (floor), and with the lock statement also bumping a one-row
//               counter table, committed (floor_fenced)
//     redis:    SET k v NX PX + compare-and-delete EVAL
//     etcd:     a lease-bound put in a transaction + a delete (JSON gateway)
// handoff: DEPTH+1 participants (threads, alternately in two processes, each
//   with its own LockManager and Lock; on PostgreSQL each is a connection)
//   take turns on one name. They queue in participant order, so FIFO makes
//   every hand-off cross from one process to the other. The holder holds for
//   HOLD_US (default 5000: a lock guards some work, and the waiter has
//   settled at the head of the queue), waits until DEPTH waiters are
//   queued, stamps CLOCK_MONOTONIC and releases; the next waiter stamps its
//   grant. Latency = grant - release. The released
//   participant queues again at the tail, so the depth stays DEPTH.
// handoff_floor: the same on the bare primitive (postgres: pg_advisory_lock/
//   unlock of one key; redis: each participant BLPOPs its own key and the
//   holder RPUSHes to the next one's; sqlite: one write transaction moves a
//   FIFO queue table on by one, then a futex wake-up of the next), so the
//   growth with DEPTH that the primitive itself shows can be told from
//   baton's.
// handoff_floor_wake (sqlite): that floor's futex wake-ups alone.
// handoff_floor_fenced (postgres): the same, with the lock statement also
//   bumping a one-row counter, committed (a durable token with each grant).
// contention: PROCS processes loop acquire/release on one name for SECONDS;
//   total grants/s and max/min grants per process.
// contention_floor (sqlite): PROCS processes take turns in a ring, WRITES (1
//   or 2) write transactions and one futex wake-up per turn (see
//   contention_floor.cpp).
// many_names: lock and release NAMES distinct names (2 threads), then the
//   uncontended measure again (baton only).
// held: LOCKS locks of distinct names (10000) held by one manager with
//   TTL_MS leases (3000) for SECONDS (60): how many its renewal lost (exit
//   70 if any).
// lock_set: acquire+release of a LockSet of 3 names, of 3 single Locks of
//   the same names one after the other, and of the uncontended floor's pair
//   3 times, in alternating runs of ITERS; medians over RUNS runs (see
//   lock_set.cpp).
// fence: one write to a resource, plain and with the stale-write check of
//   baton's fence for that backend, in alternating runs of ITERS; medians
//   over RUNS runs, each variant as a ratio to the plain write (see
//   fence.cpp).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "common.hpp"

namespace {

// The measure `what` with its arguments from argv[3] on; 64 for an unknown
// measure.
int run_measure(const std::string& what, int argc, char** argv) {
  using namespace bench;
  auto arg = [&](int i, double dflt) { return argc > i ? std::atof(argv[i]) : dflt; };
  auto int_arg = [&](int i, int dflt) { return static_cast<int>(arg(i, dflt)); };
  if (what == "uncontended") return cmd_uncontended(int_arg(3, 7), int_arg(4, 2000));
  if (what == "handoff") return cmd_handoff(int_arg(3, 1), int_arg(4, 500), int_arg(5, 5000));
  if (what == "handoff_floor" || what == "handoff_floor_fenced" || what == "handoff_floor_wake") {
    return cmd_handoff_floor(what, int_arg(3, 1), int_arg(4, 500), int_arg(5, 5000));
  }
  if (what == "contention_floor") return cmd_contention_floor(int_arg(3, 1), arg(4, 2.0), int_arg(5, 1));
  if (what == "contention") return cmd_contention(int_arg(3, 1), arg(4, 2.0));
  if (what == "many_names") return cmd_many_names(int_arg(3, 100000));
  if (what == "held") return cmd_held(int_arg(3, 10000), int_arg(4, 3000), arg(5, 60.0));
  if (what == "lock_set") return cmd_lock_set(int_arg(3, 9), int_arg(4, 1000));
  if (what == "fence") return cmd_fence(int_arg(3, 9), int_arg(4, 1000));
  std::fprintf(stderr, "bench_suite: unknown measure %s\n", what.c_str());
  return exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: bench_suite sqlite|postgres|redis uncontended [RUNS] [ITERS] | handoff DEPTH [ROUNDS] |"
                 " handoff_floor[_fenced|_wake] DEPTH [ROUNDS] | contention PROCS [SECONDS] | sqlite contention_floor PROCS [SECONDS] [WRITES] |"
                 " many_names [NAMES] | held [LOCKS] [TTL_MS] [SECONDS] | lock_set [RUNS] [ITERS] | fence [RUNS] [ITERS]\n");
    return bench::exit_usage;
  }
  // A fresh SQLite file and Redis key prefix per run, so runs never meet.
  const auto dir = std::filesystem::temp_directory_path() / ("baton-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  bench::setup.backend = argv[1];
  bench::setup.sqlite_path = (dir / "bench.db").string();
  bench::setup.key_prefix = "baton-bench:" + std::to_string(::getpid()) + ":";
  int rc = bench::exit_usage;
  try {
    rc = run_measure(argv[2], argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_suite: %s\n", e.what());
    rc = bench::exit_failed;
  }
  std::filesystem::remove_all(dir);
  return rc;
}
