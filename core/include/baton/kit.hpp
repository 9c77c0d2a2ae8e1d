// baton/kit.hpp: everything a backend author needs beyond backend.hpp and
// registry.hpp: deadline arithmetic, option defaults, a connection pool and
// error translation helpers. The built-in backends use exactly this.
#pragma once

#include "baton/kit/connection_pool.hpp"
#include "baton/kit/deadline.hpp"
#include "baton/kit/defaults.hpp"
#include "baton/kit/errors.hpp"
