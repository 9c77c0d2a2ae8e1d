// cli/postgres_module.cpp: baton-postgres.so, the PostgreSQL backend of the
// `baton` command, loaded by modules.cpp when a config picks "postgres". It
// holds the backend alone and links the shared core, so the registry it
// registers in is the executable's own.
#include <baton/postgres.hpp>
#include <baton/registry.hpp>

extern "C" __attribute__((visibility("default"))) void baton_cli_register_postgres(baton::Registry& registry) {
  baton::postgres::register_backend(registry);
}
