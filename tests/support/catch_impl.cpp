// Catch2's implementation, compiled once per build for every test program
// (the conformance library included). Catch::Session is declared only here:
// programs reach it through run_catch_session (catch_session.hpp).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

namespace baton::test {

int run_catch_session(int argc, char** argv) { return Catch::Session().run(argc, argv); }

}  // namespace baton::test
