// cli/postgres_module.cpp: baton-postgres.so, the PostgreSQL backend of the
// `baton` command as a plugin (<baton/plugin.hpp>), loaded by modules.cpp
// when a config picks "postgres". It holds the backend alone and links the
// shared core, so the registry it fills and the error types it throws are
// the executable's own.
#include <baton/plugin.hpp>
#include <baton/postgres.hpp>

BATON_PLUGIN(baton::postgres::register_backend)
