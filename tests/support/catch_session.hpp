// Runs Catch2's session (command line, tests, report) for a test program's
// main(). Catch2's implementation, and so Catch::Session, is compiled once
// per build, in the conformance library (its catch_impl.cpp): the programs
// reach it through this call.
#pragma once

namespace baton::conformance::detail {
int run_catch_session(int argc, char** argv);
}  // namespace baton::conformance::detail

namespace baton::test {

inline int run_catch_session(int argc, char** argv) {
  return baton::conformance::detail::run_catch_session(argc, argv);
}

}  // namespace baton::test
