// Runs Catch2's session (command line, tests, report) for a test program's
// main(). The session comes from the baton_catch_impl library
// (catch_impl.cpp), the one place Catch2's implementation is compiled.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace baton::test {

int run_catch_session(int argc, char** argv);

// A registered test case, as a driver that runs each case on its own sees it.
struct CaseListing {
  std::string name;
  std::vector<std::string> tags;  // lower case, without brackets
};

// The cases the command line's test specs select (all visible ones when it
// has none), in run order. Nullopt if Catch2 rejects the command line (it
// says why on stderr).
std::optional<std::vector<CaseListing>> selected_cases(int argc, char** argv);

// Runs the session with this command line on the cases that `choose` picks
// (by name) from those its test specs select; returns the session's exit
// code, or `nothing_chosen` without running when it picks none. A process
// runs at most one session: call this or selected_cases, once.
int run_chosen_cases(int argc, char** argv,
                     const std::function<std::vector<std::string>(const std::vector<CaseListing>&)>& choose,
                     int nothing_chosen);

// `name` as a Catch2 test spec that matches exactly that case (special
// characters escaped, as CMake's catch_discover_tests does).
std::string exact_case_spec(const std::string& name);

}  // namespace baton::test
