// The conformance suite's watchdog: every case has a time bound, so that no
// failure of a backend (an acquire that never returns, a helper process
// stopped inside a critical section) can hang the suite. Past the bound the
// case fails with its name, the step it was in and the backend calls in
// progress, on stderr; its helper processes are resumed (SIGCONT) and
// killed, and the process running the case exits with 124. Each case runs
// in a process of its own (driver.hpp), so the run goes on with the next.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace baton::conformance::detail {

// The exit code of a test program whose case ran past its bound.
inline constexpr int watchdog_exit_code = 124;

// Each case's time bound: $BATON_CONFORMANCE_CASE_TIMEOUT_S seconds (a
// positive integer), else 100 s, below the 120 s ctest gives each case, so
// that the watchdog, not ctest, reports a hung case.
std::chrono::milliseconds case_timeout();

// Names the step the current case is in, for the watchdog's message, while
// it lives; the step before it comes back after it. Steps nest, e.g.
//   Step s("waiting for the head waiter to be granted");
class Step {
 public:
  explicit Step(std::string what);
  ~Step();
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;

 private:
  std::string previous_;
};

// The innermost live Step of the current case ("" when none).
std::string current_step();

// Names a call into the backend under test while it lives, with when it
// began (traced_backend.hpp makes one per call). Any thread.
class BackendCall {
 public:
  explicit BackendCall(std::string what);
  ~BackendCall();
  BackendCall(const BackendCall&) = delete;
  BackendCall& operator=(const BackendCall&) = delete;

 private:
  unsigned long long id_;
};

// Helper processes the watchdog resumes and kills if it fires (Helper
// registers itself).
void watch_helper(pid_t pid);
void unwatch_helper(pid_t pid);

}  // namespace baton::conformance::detail
