// bench/commands.hpp: the measures bench_suite runs, one per call (see
// main.cpp for the command line). Each prints one JSON line on stdout and
// returns the exit status: 0, 64 for a usage error, 70 for a failure.
#pragma once

#include <string>

namespace bench {

// measures.cpp: baton's locks.
int cmd_uncontended(int runs, int iters);
int cmd_handoff(int depth, int rounds, int hold_us);
int cmd_contention(int procs, double seconds);
int cmd_many_names(int names);
int cmd_held(int locks, int ttl_ms, double seconds);

// lock_set.cpp: a LockSet of three names against three single Locks.
int cmd_lock_set(int runs, int iters);

// fence.cpp: a write with and without the stale-write check at the resource.
int cmd_fence(int runs, int iters);

// handoff_floor.cpp and contention_floor.cpp: the bare primitives.
int cmd_handoff_floor(const std::string& measure, int depth, int rounds, int hold_us);
int cmd_contention_floor(int procs, double seconds, int writes);

}  // namespace bench
