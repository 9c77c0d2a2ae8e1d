// cli/modules.cpp: the backends of the `baton` command. SQLite and Redis are
// linked in; PostgreSQL is a plugin, baton-postgres.so
// (postgres_module.cpp), loaded only when a config picks it, because libpq
// brings many shared libraries whose loading would slow every start of the
// command. The plugin is found by name in baton::plugin_search_path(): next
// to the executable in the build tree, in <libdir>/baton when installed. It
// uses the process's one shared core, so there is one registry and one set
// of error types.
#include <baton/error.hpp>
#include <baton/features.hpp>
#include <baton/plugin_loader.hpp>
#include <baton/registry.hpp>
#include <baton/sqlite.hpp>
#if BATON_HAS_REDIS
#include <baton/redis.hpp>
#endif
#if BATON_HAS_POSTGRES && !BATON_CLI_POSTGRES_MODULE
#include <baton/postgres.hpp>
#endif

#include <string>
#include <vector>

#include "backends.hpp"
#include "cli.hpp"

namespace baton::cli {

namespace {

#if BATON_CLI_POSTGRES_MODULE
constexpr const char* postgres_module = "baton-postgres.so";

// Loads the plugin (it stays loaded for the life of the process); it
// replaces the stand-in with the real backend. Throws ConfigError.
void load_postgres_module(Registry& registry) {
  const auto loaded = load_plugin(registry, find_plugin(postgres_module));
  for (const auto& name : loaded.backends) {
    if (name == "postgres") return;
  }
  throw ConfigError("", "plugin " + loaded.path.string() + ": did not register the PostgreSQL backend");
}

// Stands in for "postgres" until a config picks it (or `baton backends`
// asks). Its origin says where the real backend will come from.
void register_postgres_stand_in(Registry& registry) {
  Registration stand_in;
  stand_in.name = "postgres";
  stand_in.origin = std::string(postgres_module) + " (loaded on use)";
  stand_in.factory = [&registry](const nlohmann::json& section) {
    load_postgres_module(registry);
    return registry.make("postgres", section);
  };
  registry.add(std::move(stand_in));
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

std::vector<std::string> load_modules() {
  std::vector<std::string> failures;
#if BATON_HAS_POSTGRES && BATON_CLI_POSTGRES_MODULE
  try {
    load_postgres_module(Registry::global());
  } catch (const ConfigError& e) {
    failures.push_back(e.what());
  }
#endif
  return failures;
}

LockManager open_manager(const Config& config) { return LockManager::from_config(config); }

}  // namespace baton::cli
