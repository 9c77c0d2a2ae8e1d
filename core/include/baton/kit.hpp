// baton/kit.hpp: everything a backend author needs beyond backend.hpp and
// registry.hpp: deadline arithmetic, option defaults, a connection pool,
// error translation helpers and the usual registration. The built-in
// backends use exactly this (docs/design.md §2).
#pragma once

#include "baton/kit/connection_keys.hpp"
#include "baton/kit/connection_pool.hpp"
#include "baton/kit/deadline.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/kit/errors.hpp"
#include "baton/kit/registration.hpp"
