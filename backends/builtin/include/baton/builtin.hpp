// baton/builtin.hpp: registers the backends built into this baton.
#pragma once

#include "baton/registry.hpp"

namespace baton {

// Adds every built-in backend of this build (baton/features.hpp says which)
// to `registry` and makes "sqlite" its default backend. Nothing is
// registered by merely including a header or linking a library: call this
// once before LockManager::from_config()/from_file() or find_config() need
// the built-in names. Calling it again re-registers the same factories.
// Thread-safe (the registry locks).
void register_builtin_backends(Registry& registry = Registry::global());

}  // namespace baton
