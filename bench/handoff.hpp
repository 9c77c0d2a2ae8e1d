// bench/handoff.hpp: the harness of the hand-off measures, shared by baton's
// (handoff) and the bare primitives' (handoff_floor*).
//
// DEPTH+1 participants (threads, alternately in two processes) take turns on
// one lock. They queue in participant order, so FIFO makes every hand-off
// cross from one process to the other. The holder holds for HOLD_US, waits
// until DEPTH waiters are queued, stamps CLOCK_MONOTONIC and releases; the
// next waiter stamps its grant. Latency = grant - release. The released
// participant queues again at the tail, so the depth stays DEPTH.
#pragma once

#include <atomic>
#include <functional>

namespace bench {

// State of one hand-off measure, in memory shared by both processes.
struct HandoffShared {
  std::atomic<long long> released_ns;
  std::atomic<int> grants;  // grants so far (including the first)
  std::atomic<bool> done;
  std::atomic<int> failed;
  std::atomic<int> turn;  // the participant that may queue next
};

// What one hand-off measure is: its name and parameters (for the output),
// and where its state and samples live (shared memory).
struct HandoffMeasure {
  const char* name;
  int depth;
  int rounds;
  int hold_us;
  HandoffShared* shared;
  double* samples;  // samples[1..rounds], microseconds from release to grant
};

// The shared state and sample array of a measure of `rounds` samples.
HandoffMeasure new_handoff_measure(const char* name, int depth, int rounds, int hold_us);

// Called by a participant the moment it is granted: stores the time since
// the last release as sample g (the g-th grant; the first has no release
// before it), and ends the measure once `rounds` samples are in. True when
// the measure is over (this grant's or another participant's doing).
bool record_grant(const HandoffMeasure& m);

// Sleeps until participant i may queue (its predecessor is about to) or the
// measure is over. One thread polls at a time and connects only then, since
// hundreds connecting at once time out; a participant far from its turn
// naps long, since hundreds polling fast starve the CPU.
void await_turn(const HandoffMeasure& m, int i);

// Runs the participants 0..depth, each on a thread, alternately in a forked
// child (odd) and here (even). Each process calls make_participant() once,
// after the fork, and runs what it returns as participant(i); an exception
// counts as a failed participant and ends the measure. Then prints the
// samples as one JSON line; 70 if a participant failed.
int run_handoff(const HandoffMeasure& m, const std::function<std::function<void(int)>()>& make_participant);

}  // namespace bench
