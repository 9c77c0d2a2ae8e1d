// bench/handoff.cpp: see handoff.hpp.
#include "handoff.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>
#include <vector>

#include "common.hpp"

namespace bench {

using namespace std::chrono_literals;

HandoffMeasure new_handoff_measure(const char* name, int depth, int rounds, int hold_us) {
  // One sample per grant after the first; the array has room for them all.
  return {name, depth, rounds, hold_us, shared<HandoffShared>(), shared<double>(static_cast<size_t>(rounds) + 1)};
}

bool record_grant(const HandoffMeasure& m) {
  HandoffShared& sh = *m.shared;
  const long long granted = now_ns();
  const int g = sh.grants.fetch_add(1);
  if (g > 0 && g <= m.rounds) m.samples[g] = static_cast<double>(granted - sh.released_ns.load()) / 1000.0;
  if (g >= m.rounds) sh.done = true;
  return sh.done;
}

void await_turn(const HandoffMeasure& m, int i) {
  for (int t; (t = m.shared->turn.load()) < i && !m.shared->done;) {
    std::this_thread::sleep_for(t >= i - 2 ? 200us : 20ms);
  }
}

namespace {

// The participants of one parity, each on a thread of this process.
void run_participants(const HandoffMeasure& m, const std::function<std::function<void(int)>()>& make_participant,
                      int parity) {
  const auto participant = make_participant();
  std::vector<std::thread> threads;
  for (int i = parity; i <= m.depth; i += 2) {
    threads.emplace_back([&, i] {
      try {
        participant(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_suite %s: participant %d: %s\n", m.name, i, e.what());
        m.shared->failed += 1;
        m.shared->done = true;
      }
    });
  }
  for (auto& t : threads) t.join();
}

void print_samples(const HandoffMeasure& m) {
  std::vector<double> us(m.samples + 1, m.samples + m.rounds + 1);
  std::printf("{\"backend\":\"%s\",\"measure\":\"%s\",\"depth\":%d,"
              "\"waiters\":\"threads, alternately in 2 processes\",\"rounds\":%d,\"hold_us\":%d,"
              "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
              setup.backend.c_str(), m.name, m.depth, m.rounds, m.hold_us, pct(us, 0.5), pct(us, 0.9), pct(us, 0.99),
              pct(us, 1.0));
}

}  // namespace

int run_handoff(const HandoffMeasure& m, const std::function<std::function<void(int)>()>& make_participant) {
  const pid_t child = ::fork();
  if (child == 0) {
    run_participants(m, make_participant, 1);
    std::_Exit(0);
  }
  run_participants(m, make_participant, 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (m.shared->failed > 0) return exit_failed;
  print_samples(m);
  return 0;
}

}  // namespace bench
