// The entry point: runs a helper task, or the driver (driver.hpp).
#include <string_view>

#include "baton/conformance.hpp"
#include "driver.hpp"
#include "support.hpp"

namespace baton::conformance {

int main(int argc, char** argv, const Suite& suite) {
  detail::set_suite(suite);
  if (argc >= 2 && std::string_view(argv[1]) == detail::helper_marker) {
    return detail::run_helper(argc - 2, argv + 2);
  }
  // Keep every test source of this static library in the link.
  detail::anchor_exclusion();
  detail::anchor_fifo();
  detail::anchor_timeouts();
  detail::anchor_lease();
  detail::anchor_tokens();
  detail::anchor_inspect();
  detail::anchor_names();
  detail::anchor_stopped_head();
  detail::anchor_store_faults();
  detail::anchor_torture();
  detail::anchor_lock_set();
  detail::anchor_resource();
  detail::anchor_watchdog();  // its Catch2 listener bounds every case
  // SIGPIPE keeps its default action on purpose: a backend that writes to a
  // socket its server (or a stop request) closed must not kill the program
  // using it, and here doing so fails the suite.
  const auto options = detail::parse_driver_options(argc, argv);
  if (!options) return 64;
  return detail::run_driver(*options);
}

}  // namespace baton::conformance
