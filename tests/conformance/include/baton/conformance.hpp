// baton/conformance.hpp: the conformance suite, as a library.
//
// Every backend, built-in or custom, must pass the same contract (the lock
// contract, docs/design.md §1). The suite is a set of Catch2 tests, several
// of which start helper processes: it re-executes the test binary itself,
// so the helpers build their backend with the very same factory. A custom
// backend's whole test program is:
//
//   #include <baton/conformance.hpp>
//   int main(int argc, char** argv) {
//     baton::conformance::Suite suite;
//     suite.name = "mystore";
//     suite.make_backend = [] { return std::make_shared<MyBackend>(...); };
//     return baton::conformance::main(argc, argv, suite);
//   }
//
// linked against baton::conformance (find_package(baton) provides it).
//
// Each case runs in a process of its own under a time bound, so a backend
// that hangs or crashes fails that case and the run goes on (docs/design.md
// §2.4). A case that needs a capability the Suite does not declare is
// skipped and listed as skipped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "baton/backend.hpp"

namespace baton::conformance {

// What the suite needs to know about a backend. Aggregate; copyable.
//
// Capabilities gate cases by their tags: a case tagged [process] runs only
// when `multi_process` is true, [unreachable] only with
// `make_unreachable_backend`, [store-pause] only with `pause_store` and
// `resume_store`, [store-restart] only with `restart_store`.
struct Suite {
  // Names the backend in every message of the suite.
  std::string name;
  // Makes a backend on the shared store under test. Called in the test
  // process and in every helper process (a re-execution of this binary), so
  // it must reach the same store each time (same file, same server).
  std::function<std::shared_ptr<Backend>()> make_backend;

  // ---- what the backend declares about itself ----------------------------

  // True if locks are shared between processes on the store (the suite's
  // helper processes). False for a store that lives in one process, such as
  // an in-memory map: cases tagged [process] are skipped.
  bool multi_process = true;
  // True if the store notices a dead client's connection and frees its lock
  // at once (PostgreSQL). False: a killed holder frees its lock when its
  // lease ends, and the suite allows lease + 1 s.
  bool frees_on_disconnect = false;
  // Upper bound for a SIGKILLed waiter to stop blocking the queue. Zero: 5 s.
  std::chrono::milliseconds dead_waiter_bound{0};
  // True if held locks, their leases and the token counter survive
  // restart_store() (a store with durable state). False: a restart may drop
  // held locks, which their holders must then report lost (§1.8), and the
  // tokens granted after it must still exceed every earlier one (§1.7).
  bool survives_restart = false;

  // ---- optional: an unreachable store ---------------------------------------

  // Makes a backend aimed at a store that cannot be reached (a closed port, a
  // file in a directory that does not exist). The suite checks that making
  // it, or its first inspect() or acquire, fails with
  // baton::BackendUnavailable within `unreachable_bound`. Empty: the
  // [unreachable] cases are skipped.
  std::function<std::shared_ptr<Backend>()> make_unreachable_backend;
  // Upper bound for that failure (the backend's connect timeout plus
  // margin). Zero: 10 s.
  std::chrono::milliseconds unreachable_bound{0};

  // ---- optional: faults the suite may inject into the store ----------------

  // Freeze the store (e.g. SIGSTOP the server) and thaw it again. Each
  // returns once done, and throws on failure. Both empty: the [store-pause]
  // cases are skipped. The suite calls them only from the test process.
  std::function<void()> pause_store;
  std::function<void()> resume_store;
  // Stops the store and starts it again on the same address; returns once it
  // accepts clients. Empty: the [store-restart] cases are skipped.
  std::function<void()> restart_store;
  // Upper bound for the store to serve again after resume_store() or
  // restart_store() returns (reconnects included). Zero: 10 s.
  std::chrono::milliseconds recovery_bound{0};
};

// Runs the suite and returns the exit code. Arguments:
//   Catch2's own (test name and tag filters, -s, --durations ...), passed to
//     each case;
//   --repeat N (or $BATON_CONFORMANCE_REPEAT): run the selected cases N
//     times and report each case's failure count;
//   --in-process: run every case in this process, as a plain Catch2 session
//     (a hang ends the run);
//   --check-tags: check that every case carries the tags the capability rule
//     asks for, and exit.
// Exit codes: 0 every selected case passed (skipped ones listed), 1 a case
// failed, 77 every selected case was skipped, 64 a bad command line.
// Started as a helper (a re-execution by the suite), runs the helper's task.
int main(int argc, char** argv, const Suite& suite);

}  // namespace baton::conformance
