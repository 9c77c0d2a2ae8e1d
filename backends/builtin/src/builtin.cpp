#include "baton/builtin.hpp"

#include "baton/features.hpp"
#include "baton/sqlite.hpp"
#if BATON_HAS_POSTGRES
#include "baton/postgres.hpp"
#endif
#if BATON_HAS_REDIS
#include "baton/redis.hpp"
#endif

namespace baton {

void register_builtin_backends(Registry& registry) {
  sqlite::register_backend(registry);
#if BATON_HAS_POSTGRES
  postgres::register_backend(registry);
#endif
#if BATON_HAS_REDIS
  redis::register_backend(registry);
#endif
  registry.set_default("sqlite");
}

}  // namespace baton
