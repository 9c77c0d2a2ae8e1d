// cli/backends.hpp: the backends linked into the `baton` command; including
// it registers them. PostgreSQL is not among them when it is a module
// (modules.cpp), so this stands in for <baton/baton.hpp>.
#pragma once

#include <baton/features.hpp>
#include <baton/sqlite.hpp>
#if BATON_HAS_REDIS
#include <baton/redis.hpp>
#endif
#if BATON_HAS_POSTGRES && !BATON_CLI_POSTGRES_MODULE
#include <baton/postgres.hpp>
#endif
