// baton/baton.hpp: the umbrella header. Link baton::baton (core plus every
// backend of this build); including this registers the built-in backends in
// baton::Registry::global(), so LockManager::from_file() can pick them.
#pragma once

#include "baton/backend.hpp"
#include "baton/config.hpp"
#include "baton/error.hpp"
#include "baton/features.hpp"
#include "baton/lock.hpp"
#include "baton/lock_info.hpp"
#include "baton/lock_manager.hpp"
#include "baton/name.hpp"
#include "baton/options.hpp"
#include "baton/registry.hpp"

#if BATON_HAS_SQLITE
#include "baton/sqlite.hpp"
#endif
#if BATON_HAS_POSTGRES
#include "baton/postgres.hpp"
#endif
#if BATON_HAS_REDIS
#include "baton/redis.hpp"
#endif
