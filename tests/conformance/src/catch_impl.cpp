// Catch2's implementation, once for every program that links
// baton::conformance. Catch::Session is declared only here (see
// support.hpp's run_catch_session).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support.hpp"

namespace baton::conformance::detail {

int run_catch_session(int argc, char** argv) { return Catch::Session().run(argc, argv); }

}  // namespace baton::conformance::detail
