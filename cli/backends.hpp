// cli/backends.hpp: the backends the `baton` command offers.
#pragma once

namespace baton::cli {

// Registers every built-in backend in baton::Registry::global(), SQLite as
// the default. Backends the command keeps out of its own start-up (their
// client libraries load slowly) are registered as stand-ins that load the
// backend's module on first use (modules.cpp). Call once, first thing.
void register_backends();

}  // namespace baton::cli
