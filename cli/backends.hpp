// cli/backends.hpp: the backends the `baton` command offers.
#pragma once

#include <string>
#include <vector>

namespace baton::cli {

// Registers every built-in backend in baton::Registry::global(), SQLite as
// the default. Backends the command keeps out of its own start-up (their
// client libraries load slowly) are registered as stand-ins that load the
// backend's plugin on first use (modules.cpp). Call once, first thing.
void register_backends();

// Loads the plugins of those stand-ins now, so that the registry shows the
// real backends (for `baton backends`). Returns one message per plugin
// that could not be loaded; its stand-in stays.
std::vector<std::string> load_modules();

}  // namespace baton::cli
