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
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "baton/backend.hpp"

namespace baton::conformance {

// What the suite needs to know about a backend. Aggregate; copyable.
struct Suite {
  // Used in test names and messages.
  std::string name;
  // Makes a backend on the shared store under test. Called in the test
  // process and in every helper process (a re-execution of this binary), so
  // it must reach the same store each time (same file, same server).
  std::function<std::shared_ptr<Backend>()> make_backend;
  // True if the store notices a dead client's connection and frees its lock
  // at once (PostgreSQL). False: a killed holder frees its lock when its
  // lease ends, and the suite allows lease + 1 s.
  bool frees_on_disconnect = false;
  // Upper bound for a SIGKILLed waiter to stop blocking the queue. Zero: 5 s.
  std::chrono::milliseconds dead_waiter_bound{0};
  // Optional: makes a backend aimed at a store that cannot be reached (a
  // closed port, a file in a directory that does not exist). The suite
  // checks that making it, or its first inspect() or acquire, fails with
  // baton::BackendUnavailable within `unreachable_bound`. Empty: not checked.
  std::function<std::shared_ptr<Backend>()> make_unreachable_backend;
  // Upper bound for that failure (the backend's connect timeout plus
  // margin). Zero: 10 s.
  std::chrono::milliseconds unreachable_bound{0};
};

// Runs the suite (Catch2 command line: test name filters, -r reporter, ...)
// or, when started as a helper, the helper's task. Returns the exit code.
int main(int argc, char** argv, const Suite& suite);

}  // namespace baton::conformance
