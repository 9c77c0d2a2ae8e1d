// baton/plugin_loader.hpp: loading backend plugins (<baton/plugin.hpp>)
// into a registry, and finding them by name (docs/design.md §2.6, §6).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "baton/registry.hpp"

namespace baton {

// What one plugin brought.
struct LoadedPlugin {
  // The file, made absolute.
  std::filesystem::path path;
  // The baton version it was built against ("0.1.0").
  std::string version;
  // The backends it registered, sorted; each now in the registry with the
  // plugin's path as its origin.
  std::vector<std::string> backends;
};

// Loads the plugin at `path` and adds what it registers to `registry`,
// replacing backends of the same names. Before calling any code of the
// plugin it checks its baton_plugin_abi: the interface number, the baton
// major.minor (must equal this core's; the patch may differ) and the
// standard-library tag (must equal this core's).
//
// Throws ConfigError with an empty key and one line naming the file: no
// such file, dlopen failed (dlerror's text), not a baton plugin (a symbol
// is missing), built against another baton version or standard library
// (naming both), the register function failed (its message), or it
// registered no backend. The library stays loaded for the life of the
// process once dlopen succeeded (the registry holds its code, and a
// rejected one is never run, so it is not unloaded either). Loading one
// file twice registers its backends again.
//
// Thread-safety: may be called concurrently; the plugin's register
// function runs on the calling thread.
LoadedPlugin load_plugin(Registry& registry, const std::filesystem::path& path);

// The directories a bare plugin name is looked up in, in order: those of
// $BATON_PLUGIN_PATH (colon-separated; empty entries skipped), the
// directory of the running executable, and <libdir>/baton beside the
// loaded libbaton_core. Directories that cannot be determined are left out.
std::vector<std::filesystem::path> plugin_search_path();

// Resolves a plugin named in a config: a name with a '/' is a path,
// relative to `base_dir` when not absolute; a bare name is the first
// regular file of that name in plugin_search_path(). Throws ConfigError
// (empty key) naming the places searched when a bare name is not found;
// a path is returned as is, whether or not it exists.
std::filesystem::path find_plugin(std::string_view name, const std::filesystem::path& base_dir = {});

}  // namespace baton
