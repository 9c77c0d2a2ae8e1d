// bench/handoff_floor.cpp: the hand-off measure (handoff.hpp) on the bare
// primitive instead of baton, so that the growth with DEPTH that the
// primitive itself shows can be told from baton's.
//   handoff_floor:        each backend's primitive (floors.hpp)
//   handoff_floor_fenced: postgres, the lock statement also bumping a
//                         one-row counter, committed (a durable token with
//                         each grant)
//   handoff_floor_wake:   sqlite, the futex wake-ups of its floor alone
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "floors.hpp"
#include "handoff.hpp"

namespace bench {

using namespace std::chrono_literals;

namespace {

// Whether `measure` can run on setup.backend; prints why not.
bool floor_measure_fits(const std::string& measure) {
  const bool fenced = measure == "handoff_floor_fenced";
  const bool wake_only = measure == "handoff_floor_wake";
  if (setup.backend != "postgres" && setup.backend != "redis" && setup.backend != "sqlite") {
    std::fprintf(stderr, "bench_suite: handoff_floor needs sqlite, postgres or redis\n");
    return false;
  }
  if ((fenced && setup.backend != "postgres") || (wake_only && setup.backend != "sqlite")) {
    std::fprintf(stderr, "bench_suite: %s is for %s\n", measure.c_str(), fenced ? "postgres" : "sqlite");
    return false;
  }
  return true;
}

// One floor hand-off: the measure, its lock name, and what the
// participants share.
struct FloorHandoff {
  HandoffMeasure m;
  std::string name;
  bool fenced;
  bool wake_only;
  std::atomic<int>* waiting;  // participants that sent their wait
  std::atomic<int>* exited;
  std::atomic<std::uint32_t>* words;  // SQLite: each participant's wake-up word
};

FloorParticipant open_participant(const FloorHandoff& h, int i) {
  const int participants = h.m.depth + 1;
  if (setup.backend == "sqlite") return sqlite_floor_participant(h.name, i, participants, h.words, !h.wake_only);
#if BATON_HAS_POSTGRES
  if (setup.backend == "postgres") return postgres_floor_participant(h.name, h.fenced);
#endif
#if BATON_HAS_REDIS
  if (setup.backend == "redis") return redis_floor_participant(h.name, i, participants);
#endif
  (void)participants;
  return FloorParticipant{};
}

// Participant i: connects and queues in participant order, one at a time
// (see await_turn); participant 0 holds from the start. The holder holds
// for HOLD_US, waits until DEPTH others have sent their wait, stamps and
// passes; the next stamps its grant, and the released one waits again.
void floor_participant(const FloorHandoff& h, int i) {
  const HandoffMeasure& m = h.m;
  await_turn(m, i);
  FloorParticipant p = open_participant(h, i);
  if (i == 0 && setup.backend == "postgres") p.wait();
  if (i > 0) p.await_waiters(i - 1);
  for (bool first = true;; first = false) {
    if (!first || i > 0) {
      h.waiting->fetch_add(1);
      if (first) m.shared->turn = i + 1;
      p.wait();
      h.waiting->fetch_sub(1);
    } else {
      m.shared->turn = 1;
    }
    if (record_grant(m)) {
      // Wake the next, which sees done and does the same; the last one out
      // has nobody left to wake.
      if (h.exited->fetch_add(1) < m.depth) p.pass();
      p.close();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(m.hold_us));
    while (h.waiting->load() < m.depth && !m.shared->done) std::this_thread::sleep_for(100us);
    m.shared->released_ns = now_ns();
    p.pass();
  }
}

}  // namespace

int cmd_handoff_floor(const std::string& measure, int depth, int rounds, int hold_us) {
  if (!floor_measure_fits(measure)) return exit_usage;
  FloorHandoff h{new_handoff_measure(measure.c_str(), depth, rounds, hold_us),
                 "handoff-floor-" + std::to_string(depth) + "-" + std::to_string(::getpid()),
                 measure == "handoff_floor_fenced",
                 measure == "handoff_floor_wake",
                 shared<std::atomic<int>>(),
                 shared<std::atomic<int>>(),
                 nullptr};
  // SQLite: the queue table starts with a row per participant (the holder's
  // included, as baton's holder row), and each participant has a wake-up word.
  if (setup.backend == "sqlite") {
    if (!h.wake_only) sqlite_floor_fill(h.name, depth + 1);
    h.words = shared<std::atomic<std::uint32_t>>(static_cast<size_t>(depth + 1));
  }
  auto make_participant = [&] { return std::function<void(int)>([&](int i) { floor_participant(h, i); }); };
  return run_handoff(h.m, make_participant);
}

}  // namespace bench
