// Runs Catch2's session (command line, tests, report) for a test program's
// main(); implemented in catch_impl.cpp (library baton_catch).
#pragma once

namespace baton::test {

int run_catch_session(int argc, char** argv);

}  // namespace baton::test
