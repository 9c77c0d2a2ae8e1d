// cli/modules.cpp: the backends of the `baton` command. SQLite is linked
// in; PostgreSQL and Redis are plugins, baton-postgres.so and
// baton-redis.so (<backend>_module.cpp), each loaded only when a config
// picks its backend, because their client libraries (libpq above all) bring
// shared libraries whose loading would slow every start of the command. A
// plugin is found by name in baton::plugin_search_path(): next to the
// executable in the build tree, in <libdir>/baton when installed. It uses
// the process's one shared core, so there is one registry and one set of
// error types.
#include <baton/error.hpp>
#include <baton/features.hpp>
#include <baton/plugin_loader.hpp>
#include <baton/registry.hpp>
#include <baton/sqlite.hpp>
#if BATON_HAS_REDIS && !BATON_CLI_REDIS_MODULE
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

// A built-in backend that the command loads from a plugin of its own.
struct Module {
  const char* backend;
  const char* file;
};

std::vector<Module> modules() {
  std::vector<Module> all;
#if BATON_CLI_POSTGRES_MODULE
  all.push_back({"postgres", "baton-postgres.so"});
#endif
#if BATON_CLI_REDIS_MODULE
  all.push_back({"redis", "baton-redis.so"});
#endif
  return all;
}

// Loads the module's plugin (it stays loaded for the life of the process),
// which replaces the stand-in with the real backend. Throws ConfigError.
void load_module(Registry& registry, const Module& module) {
  const auto loaded = load_plugin(registry, find_plugin(module.file));
  for (const auto& name : loaded.backends) {
    if (name == module.backend) return;
  }
  throw ConfigError("", "plugin " + loaded.path.string() + ": did not register the " + module.backend + " backend");
}

// Stands in for the module's backend until a config picks it (or `baton
// backends` asks). Its origin says where the real backend will come from.
void register_stand_in(Registry& registry, const Module& module) {
  Registration stand_in;
  stand_in.name = module.backend;
  stand_in.origin = std::string(module.file) + " (loaded on use)";
  stand_in.factory = [&registry, module](const nlohmann::json& section) {
    load_module(registry, module);
    return registry.make(module.backend, section);
  };
  registry.add(std::move(stand_in));
}

}  // namespace

void register_backends() {
  Registry& registry = Registry::global();
  sqlite::register_backend(registry);
#if BATON_HAS_REDIS && !BATON_CLI_REDIS_MODULE
  redis::register_backend(registry);
#endif
#if BATON_HAS_POSTGRES && !BATON_CLI_POSTGRES_MODULE
  postgres::register_backend(registry);
#endif
  for (const auto& module : modules()) register_stand_in(registry, module);
  registry.set_default("sqlite");
}

std::vector<std::string> load_modules() {
  std::vector<std::string> failures;
  for (const auto& module : modules()) {
    try {
      load_module(Registry::global(), module);
    } catch (const ConfigError& e) {
      failures.push_back(e.what());
    }
  }
  return failures;
}

LockManager open_manager(const Config& config) { return LockManager::from_config(config); }

}  // namespace baton::cli
