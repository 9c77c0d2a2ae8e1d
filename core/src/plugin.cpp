// Loading backend plugins: find the file, check its ABI record, call its
// register function on a scratch registry, copy what it registered.
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <system_error>
#include <utility>

#include "baton/error.hpp"
#include "baton/plugin.hpp"
#include "baton/plugin_loader.hpp"

namespace baton {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, const std::string& why) {
  throw ConfigError("", "plugin " + path.string() + ": " + why);
}

std::string version_of(const baton_plugin_abi_info& abi) {
  return std::to_string(abi.version_major) + "." + std::to_string(abi.version_minor) + "." +
         std::to_string(abi.version_patch);
}

// Refuses a plugin whose ABI record does not match this core. Reads the
// record's fields only after its interface number says what they are.
void check_abi(const fs::path& path, const baton_plugin_abi_info& abi) {
  if (abi.interface != BATON_PLUGIN_INTERFACE) {
    fail(path, "plugin interface " + std::to_string(abi.interface) + ", this baton " BATON_VERSION
               " loads interface " + std::to_string(BATON_PLUGIN_INTERFACE));
  }
  const std::string stdlib = abi.stdlib != nullptr ? abi.stdlib : "unknown";
  const std::string compiler = abi.compiler != nullptr ? abi.compiler : "unknown";
  const std::string theirs = version_of(abi) + " (" + stdlib + ", " + compiler + ")";
  const std::string ours = BATON_VERSION " (" BATON_PLUGIN_STDLIB ", " BATON_PLUGIN_COMPILER ")";
  if (abi.version_major != BATON_VERSION_MAJOR || abi.version_minor != BATON_VERSION_MINOR) {
    fail(path, "built against baton " + theirs + ", this is baton " + ours + "; major.minor must match");
  }
  if (stdlib != BATON_PLUGIN_STDLIB) {
    fail(path, "built against baton " + theirs + ", this is baton " + ours +
                   "; the C++ standard library ABI must match");
  }
}

// Collects the message a failing register function reports.
void record_failure(void* context, const char* message) {
  *static_cast<std::string*>(context) = message != nullptr ? message : "";
}

// Runs the plugin's register function on a scratch registry.
std::vector<Registration> run_register(const fs::path& path, baton_plugin_register_fn entry) {
  Registry scratch;
  std::string failure;
  const baton_plugin_host host{BATON_PLUGIN_INTERFACE, &scratch, &failure, &record_failure};
  if (entry(&host) != 0) {
    fail(path, "registration failed: " + (failure.empty() ? std::string("no reason given") : failure));
  }
  auto registered = scratch.registrations();
  if (registered.empty()) fail(path, "registered no backend");
  return registered;
}

// The directory of the object holding `address`; empty if unknown.
fs::path directory_of(const void* address) {
  Dl_info info{};
  if (::dladdr(address, &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  auto file = fs::canonical(info.dli_fname, ec);
  return ec ? fs::path() : file.parent_path();
}

}  // namespace

LoadedPlugin load_plugin(Registry& registry, const fs::path& path) {
  std::error_code ec;
  const fs::path file = fs::absolute(path, ec).lexically_normal();
  if (!fs::exists(file, ec)) fail(file, "no such file");
  if (!fs::is_regular_file(file, ec)) fail(file, "not a regular file");
  // RTLD_NOW: unresolved symbols fail here, not at a first call.
  // RTLD_LOCAL: plugins do not see each other's symbols.
  void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    fail(file, std::string("cannot load: ") + (why != nullptr ? why : "unknown error"));
  }
  const auto* abi = static_cast<const baton_plugin_abi_info*>(::dlsym(handle, "baton_plugin_abi"));
  if (abi == nullptr) fail(file, "not a baton plugin (no baton_plugin_abi symbol; see <baton/plugin.hpp>)");
  check_abi(file, *abi);
  auto entry = reinterpret_cast<baton_plugin_register_fn>(::dlsym(handle, "baton_plugin_register"));
  if (entry == nullptr) fail(file, "not a baton plugin (no baton_plugin_register symbol)");

  LoadedPlugin loaded{file, version_of(*abi), {}};
  for (auto& registration : run_register(file, entry)) {
    loaded.backends.push_back(registration.name);
    registration.origin = file.string();
    registry.add(std::move(registration));
  }
  return loaded;
}

std::vector<fs::path> plugin_search_path() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("BATON_PLUGIN_PATH"); env != nullptr) {
    const std::string list = env;
    for (std::size_t start = 0; start <= list.size();) {
      auto end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) dirs.emplace_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  std::error_code ec;
  if (auto exe = fs::read_symlink("/proc/self/exe", ec); !ec) dirs.push_back(exe.parent_path());
  if (auto core = directory_of(reinterpret_cast<const void*>(&plugin_search_path)); !core.empty()) {
    dirs.push_back(core / "baton");
  }
  return dirs;
}

fs::path find_plugin(std::string_view name, const fs::path& base_dir) {
  if (name.find('/') != std::string_view::npos) {
    fs::path path(name);
    return path.is_absolute() || base_dir.empty() ? path : base_dir / path;
  }
  std::string tried;
  std::error_code ec;
  for (const auto& dir : plugin_search_path()) {
    const fs::path candidate = dir / name;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    tried += (tried.empty() ? "" : ", ") + dir.lexically_normal().string();
  }
  throw ConfigError("", "plugin " + std::string(name) + ": not found (looked in " +
                            (tried.empty() ? std::string("no directory") : tried) + ")");
}

}  // namespace baton
