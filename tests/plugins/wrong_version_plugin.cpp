// A test plugin that claims to be built against baton 99.0.0: the loader
// must refuse it before calling baton_plugin_register.
#include <cstdlib>

#include <baton/plugin.hpp>

extern "C" __attribute__((visibility("default"))) const baton_plugin_abi_info baton_plugin_abi = {
    BATON_PLUGIN_INTERFACE, 99, 0, 0, BATON_PLUGIN_STDLIB, BATON_PLUGIN_COMPILER};

extern "C" __attribute__((visibility("default"))) int baton_plugin_register(const baton_plugin_host*) {
  std::abort();  // never called: the version check comes first
}
