// A test plugin that claims another C++ standard library: the loader must
// refuse it before calling baton_plugin_register.
#include <cstdlib>

#include <baton/plugin.hpp>

extern "C" __attribute__((visibility("default"))) const baton_plugin_abi_info baton_plugin_abi = {
    BATON_PLUGIN_INTERFACE, BATON_VERSION_MAJOR, BATON_VERSION_MINOR, BATON_VERSION_PATCH,
    "some-other-stdlib abi 7", BATON_PLUGIN_COMPILER};

extern "C" __attribute__((visibility("default"))) int baton_plugin_register(const baton_plugin_host*) {
  std::abort();  // never called: the ABI check comes first
}
