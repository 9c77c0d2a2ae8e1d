// baton/plugin.hpp: what a backend plugin exports, so that baton can load it
// at run time (docs/design.md §2.6).
//
// A plugin is a shared library that links baton::core and ends one source
// file with
//
//   void register_mystore(baton::Registry& registry) {
//     baton::kit::register_backend(registry, "mystore", &parse, &make, {{"url", "the server"}});
//   }
//   BATON_PLUGIN(register_mystore)
//
// BATON_PLUGIN defines two C symbols:
//
//   baton_plugin_abi       const baton_plugin_abi_info: the baton version
//                          and the C++ standard library ABI the plugin was
//                          built against. Plain data: baton reads and
//                          checks it before it calls anything in the plugin.
//   baton_plugin_register  int (const baton_plugin_host*): calls the
//                          register function with the registry to fill;
//                          0 on success, else nonzero after host->fail().
//
// A plugin is accepted when its interface number equals the host's, its
// baton major.minor equals the loading core's (the patch may differ), and
// its standard-library tag equals the core's; see baton::load_plugin()
// (<baton/plugin_loader.hpp>). The compiler tag is reported, not compared:
// gcc and clang builds over one libstdc++ mix.
//
// The register function may throw: the exception's what() becomes the
// loader's ConfigError. It must not keep a reference to the registry it is
// given (the loader copies the registrations out of it afterwards).
#pragma once

#include <exception>

#include "baton/registry.hpp"
#include "baton/version.hpp"

// The layout of the two structs below and the virtual functions of Backend
// and BackendLock (backend.hpp); raised whenever any of them changes.
#define BATON_PLUGIN_INTERFACE 2

#define BATON_PLUGIN_STR2(x) #x
#define BATON_PLUGIN_STR(x) BATON_PLUGIN_STR2(x)

// The C++ standard library and its ABI, as a string compared exactly.
#if defined(_LIBCPP_VERSION)
#define BATON_PLUGIN_STDLIB "libc++ abi " BATON_PLUGIN_STR(_LIBCPP_ABI_VERSION)
#elif defined(__GLIBCXX__)
#define BATON_PLUGIN_STDLIB "libstdc++ cxx11-abi " BATON_PLUGIN_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define BATON_PLUGIN_STDLIB "unknown"
#endif

// The compiler and its major version, for messages only.
#if defined(__clang__)
#define BATON_PLUGIN_COMPILER "clang " BATON_PLUGIN_STR(__clang_major__)
#elif defined(__GNUC__)
#define BATON_PLUGIN_COMPILER "gcc " BATON_PLUGIN_STR(__GNUC__)
#else
#define BATON_PLUGIN_COMPILER "unknown"
#endif

extern "C" {

// What a plugin was built against. Only `interface` is read before it is
// checked; the other fields follow the layout of that interface number.
struct baton_plugin_abi_info {
  unsigned interface;  // BATON_PLUGIN_INTERFACE
  unsigned version_major;
  unsigned version_minor;
  unsigned version_patch;
  const char* stdlib;    // BATON_PLUGIN_STDLIB
  const char* compiler;  // BATON_PLUGIN_COMPILER
};

// What the loader hands to baton_plugin_register.
struct baton_plugin_host {
  unsigned interface;  // BATON_PLUGIN_INTERFACE
  void* registry;      // a baton::Registry*
  void* context;       // the loader's, passed back to fail()
  // Reports why registration failed (one line); the loader copies it.
  void (*fail)(void* context, const char* message);
};

typedef int (*baton_plugin_register_fn)(const baton_plugin_host* host);

}  // extern "C"

namespace baton::plugin_detail {

// The body of baton_plugin_register: no exception crosses the C boundary.
template <class RegisterFn>
int run_register(const baton_plugin_host* host, RegisterFn&& register_fn) noexcept {
  if (host == nullptr || host->interface != BATON_PLUGIN_INTERFACE) return 1;
  try {
    register_fn(*static_cast<Registry*>(host->registry));
    return 0;
  } catch (const std::exception& e) {
    host->fail(host->context, e.what());
  } catch (...) {
    host->fail(host->context, "the register function threw a non-standard exception");
  }
  return 1;
}

}  // namespace baton::plugin_detail

// Defines the plugin's two exported symbols around `register_fn`, a
// function (or function object) taking baton::Registry&. Use once per
// plugin, at namespace scope.
#define BATON_PLUGIN(register_fn)                                                                   \
  extern "C" __attribute__((visibility("default"))) const baton_plugin_abi_info baton_plugin_abi = { \
      BATON_PLUGIN_INTERFACE, BATON_VERSION_MAJOR,  BATON_VERSION_MINOR,                             \
      BATON_VERSION_PATCH,    BATON_PLUGIN_STDLIB,  BATON_PLUGIN_COMPILER};                          \
  extern "C" __attribute__((visibility("default"))) int baton_plugin_register(                      \
      const baton_plugin_host* host) {                                                              \
    return ::baton::plugin_detail::run_register(host, register_fn);                                 \
  }
