// baton/baton.hpp: the umbrella header. Link baton::baton (core plus every
// built-in backend of this build) and call baton::register_builtin_backends()
// before picking a backend by name from a config.
#pragma once

#include "baton/backend.hpp"
#include "baton/builtin.hpp"
#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/features.hpp"
#include "baton/lock.hpp"
#include "baton/lock_info.hpp"
#include "baton/lock_manager.hpp"
#include "baton/lock_set.hpp"
#include "baton/name.hpp"
#include "baton/options.hpp"
#include "baton/registry.hpp"
#include "baton/version.hpp"

#if BATON_HAS_SQLITE
#include "baton/sqlite.hpp"
#endif
#if BATON_HAS_POSTGRES
#include "baton/postgres.hpp"
#include "baton/postgres_connection_locks.hpp"
#endif
#if BATON_HAS_REDIS
#include "baton/redis.hpp"
#endif
