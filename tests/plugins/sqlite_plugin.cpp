// A working test plugin: the SQLite backend under the name "sqlite-plugin"
// (its config section is "sqlite-plugin"; its messages name "sqlite.*").
#include <baton/kit/registration.hpp>
#include <baton/plugin.hpp>
#include <baton/sqlite.hpp>

namespace {

void register_sqlite_plugin(baton::Registry& registry) {
  baton::kit::register_backend(registry, "sqlite-plugin", &baton::sqlite::options_from_config,
                               &baton::sqlite::make_backend,
                               {{"path", "database file, as sqlite.path"}});
}

}  // namespace

BATON_PLUGIN(register_sqlite_plugin)
