// cli/postgres_module.cpp: baton-postgres.so, the PostgreSQL backend of the
// `baton` command, loaded by modules.cpp when a config names "postgres"
// (cli/CMakeLists.txt says why it is a module). Including the header is the
// whole of it: its inline variable registers the backend in
// baton::Registry::global() while the module is being loaded, and that
// registry is the executable's own (the module does not contain the core).
#include <baton/postgres.hpp>
