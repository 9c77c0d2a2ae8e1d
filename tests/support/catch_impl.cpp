// Catch2's implementation, compiled once for all the backend-specific test
// programs rather than in each (it is most of their build time, five times
// over under ASan). The single header declares Catch::Session only where
// the implementation is compiled, so the programs' main() functions run the
// session through run_catch_session().
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_session.hpp"

namespace baton::test {

int run_catch_session(int argc, char** argv) { return Catch::Session().run(argc, argv); }

}  // namespace baton::test
