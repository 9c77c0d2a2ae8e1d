// cli/modules.cpp: the backends of the `baton` command. SQLite and Redis are
// linked in; PostgreSQL is a module, baton-postgres.so, loaded only when a
// config picks it, because libpq brings many shared libraries whose loading
// would slow every start of the command. The module sits next to the
// executable in the build tree and in <libdir>/baton when installed; it uses
// the process's one shared core, so there is one registry and one set of
// error types.
#include <baton/error.hpp>
#include <baton/features.hpp>
#include <baton/registry.hpp>
#include <baton/sqlite.hpp>
#if BATON_HAS_REDIS
#include <baton/redis.hpp>
#endif
#if BATON_HAS_POSTGRES && !BATON_CLI_POSTGRES_MODULE
#include <baton/postgres.hpp>
#endif

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "backends.hpp"
#include "cli.hpp"

#if BATON_CLI_POSTGRES_MODULE
#include <dlfcn.h>
#endif

namespace baton::cli {

namespace {

#if BATON_CLI_POSTGRES_MODULE
// The module's entry point (cli/postgres_module.cpp).
using ModuleEntry = void (*)(Registry&);
constexpr const char* module_entry_symbol = "baton_cli_register_postgres";

std::filesystem::path find_postgres_module() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the baton executable to load its PostgreSQL module: " + ec.message());
  const std::vector<std::filesystem::path> places{exe.parent_path() / "baton-postgres.so",
                                                  exe.parent_path() / BATON_CLI_MODULE_DIR / "baton-postgres.so"};
  std::string tried;
  for (const auto& path : places) {
    if (std::filesystem::exists(path, ec)) return path;
    tried += (tried.empty() ? "" : ", ") + path.lexically_normal().string();
  }
  throw Error("the PostgreSQL backend module baton-postgres.so is not installed (looked for " + tried + ")");
}

// Loads the module (it stays loaded for the life of the process) and lets
// it replace the stand-in with the real backend.
void load_postgres_module(Registry& registry) {
  const auto path = find_postgres_module();
  // RTLD_NOW: a module that does not match this executable fails here,
  // not at its first call.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error("cannot load the PostgreSQL backend module " + path.string() + ": " + (why ? why : "unknown error"));
  }
  auto entry = reinterpret_cast<ModuleEntry>(::dlsym(handle, module_entry_symbol));
  if (entry == nullptr) throw Error("the module " + path.string() + " has no " + module_entry_symbol);
  entry(registry);
}

// Stands in for "postgres" until a config picks it. The module replaces it
// with the real factory; a module that does not is reported, not retried.
void register_postgres_stand_in(Registry& registry) {
  registry.add("postgres", [&registry, loaded = false](const nlohmann::json& section) mutable {
    if (loaded) throw Error("the PostgreSQL backend module did not register the PostgreSQL backend");
    load_postgres_module(registry);
    loaded = true;
    return registry.make("postgres", section);
  });
}
#endif

}  // namespace

void register_backends() {
  Registry& registry = Registry::global();
  sqlite::register_backend(registry);
#if BATON_HAS_REDIS
  redis::register_backend(registry);
#endif
#if BATON_HAS_POSTGRES && BATON_CLI_POSTGRES_MODULE
  register_postgres_stand_in(registry);
#elif BATON_HAS_POSTGRES
  postgres::register_backend(registry);
#endif
  registry.set_default("sqlite");
}

LockManager open_manager(const Config& config) { return LockManager::from_config(config); }

}  // namespace baton::cli
