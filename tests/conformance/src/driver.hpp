// The suite's driver: runs each selected case in a process of its own (this
// binary re-executed with --baton-case), under the watchdog's bound, so that
// a case that hangs or crashes fails alone and the run goes on; skips and
// lists the cases whose capability the Suite lacks (capabilities.hpp);
// repeats the run and counts each case's failures.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace baton::conformance::detail {

// The command line, split into the driver's options and Catch2's own.
struct DriverOptions {
  int repeat = 1;                          // --repeat N, $BATON_CONFORMANCE_REPEAT
  bool in_process = false;                 // --in-process
  bool check_tags = false;                 // --check-tags
  std::optional<std::string> single_case;  // --baton-case NAME: run it here
  std::vector<std::string> catch_args;     // argv[0] and every other argument
};

// Nullopt on a bad driver option (said on stderr).
std::optional<DriverOptions> parse_driver_options(int argc, char** argv);

// Runs what `options` ask for; returns the exit code (conformance.hpp).
int run_driver(const DriverOptions& options);

}  // namespace baton::conformance::detail
