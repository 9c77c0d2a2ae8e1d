// cli/modules.cpp: backends the `baton` command loads only when a config
// names them. PostgreSQL is one (see cli/CMakeLists.txt): its module,
// baton-postgres.so, sits next to the executable in the build tree and in
// <libdir>/baton when installed.
#include <baton/error.hpp>
#include <baton/registry.hpp>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli.hpp"

#if BATON_CLI_POSTGRES_MODULE
#include <dlfcn.h>
#endif

namespace baton::cli {

namespace {

#if BATON_CLI_POSTGRES_MODULE
// Loads baton-postgres.so, whose static initialisation registers the backend
// in Registry::global(). It stays loaded for the life of the process.
void load_postgres() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the baton executable to load its PostgreSQL module: " + ec.message());
  const std::vector<std::filesystem::path> places{exe.parent_path() / "baton-postgres.so",
                                                  exe.parent_path() / BATON_CLI_MODULE_DIR / "baton-postgres.so"};
  std::string tried;
  for (const auto& path : places) {
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path.lexically_normal().string();
      continue;
    }
    // RTLD_NOW: a module that does not match this executable fails here,
    // not at its first call.
    if (::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL) == nullptr) {
      const char* why = ::dlerror();
      throw Error("cannot load the PostgreSQL backend module " + path.string() + ": " + (why ? why : "unknown error"));
    }
    if (!Registry::global().contains("postgres")) {
      throw Error("the module " + path.string() + " did not register the PostgreSQL backend");
    }
    return;
  }
  throw Error("the PostgreSQL backend module baton-postgres.so is not installed (looked for " + tried + ")");
}
#endif

}  // namespace

LockManager open_manager(const Config& config) {
#if BATON_CLI_POSTGRES_MODULE
  if (config.backend == "postgres" && !Registry::global().contains("postgres")) load_postgres();
#endif
  return LockManager::from_config(config);
}

}  // namespace baton::cli
