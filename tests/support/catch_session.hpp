// Runs Catch2's session (command line, tests, report) for a test program's
// main(). The session comes from the baton_catch_impl library
// (catch_impl.cpp), the one place Catch2's implementation is compiled.
#pragma once

namespace baton::test {

int run_catch_session(int argc, char** argv);

}  // namespace baton::test
