// cli/redis_module.cpp: baton-redis.so, the Redis backend of the `baton`
// command as a plugin (<baton/plugin.hpp>), loaded by modules.cpp when a
// config picks "redis". It holds the backend alone and links the shared
// core, so the registry it fills and the error types it throws are the
// executable's own.
#include <baton/plugin.hpp>
#include <baton/redis.hpp>

BATON_PLUGIN(baton::redis::register_backend)
