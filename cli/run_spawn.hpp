// cli/run_spawn.hpp: starting CMD for `baton run`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "run_signals.hpp"

namespace baton::cli {

// The result of starting CMD: its pid, or the errno posix_spawnp() gave.
struct Spawned {
  pid_t pid = -1;
  int error = 0;  // 0 when CMD started
};

// Starts `command` (looked up in PATH) with our environment plus, for the
// held locks `tokens` (name to fencing token):
//  - one lock: BATON_LOCK_NAME=name and BATON_FENCING_TOKEN=token;
//  - several: BATON_LOCK_NAMES, a JSON array of the names in canonical
//    order, and BATON_FENCING_TOKENS, a JSON object from name to token.
// These four replace any inherited ones (those that do not apply are left
// out). CMD starts with the signal mask baton had before it blocked its
// signals, and with those signals at their default action, so it behaves
// as if run directly.
Spawned spawn_command(const std::vector<std::string>& command, const std::map<std::string, std::uint64_t>& tokens,
                      const Signals& signals);

}  // namespace baton::cli
