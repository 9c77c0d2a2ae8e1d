// cli/run_spawn.hpp: starting CMD for `baton run`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "run_signals.hpp"

namespace baton::cli {

// The result of starting CMD: its pid, or the errno posix_spawnp() gave.
struct Spawned {
  pid_t pid = -1;
  int error = 0;  // 0 when CMD started
};

// Starts `command` (looked up in PATH) with our environment plus
// BATON_LOCK_NAME=`name` and BATON_FENCING_TOKEN=`token`, which replace any
// inherited ones. CMD starts with the signal mask baton had before it
// blocked its signals, and with those signals at their default action, so
// it behaves as if run directly.
Spawned spawn_command(const std::vector<std::string>& command, const std::string& name, std::uint64_t token,
                      const Signals& signals);

}  // namespace baton::cli
