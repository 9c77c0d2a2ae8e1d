// The conformance suite on the in-memory backend (memory_backend.hpp): a
// single-process backend, so the [process] cases are skipped and listed.
// $BATON_SELFTEST_DEFECT picks a deliberate defect (default "none"), which
// check_selftest.py uses to show that the suite catches it.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <baton/conformance.hpp>

#include "memory_backend.hpp"

int main(int argc, char** argv) {
  const char* text = std::getenv("BATON_SELFTEST_DEFECT");
  baton::selftest::Defect defect{};
  try {
    defect = baton::selftest::parse_defect(text != nullptr && *text != '\0' ? text : "none");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "selftest: $BATON_SELFTEST_DEFECT: %s\n", e.what());
    return 64;
  }
  baton::conformance::Suite suite;
  suite.name = std::string("memory") + (text != nullptr && *text != '\0' ? std::string(" (") + text + ")" : "");
  suite.make_backend = [defect] { return baton::selftest::make_memory_backend(defect); };
  suite.multi_process = false;
  return baton::conformance::main(argc, argv, suite);
}
