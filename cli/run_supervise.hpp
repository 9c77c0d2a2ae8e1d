// cli/run_supervise.hpp: watching CMD while it runs under the lock.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "run_signals.hpp"

namespace baton::cli {

// How CMD ended.
struct CommandEnd {
  int wait_status = 0;     // as waitpid() reports it
  bool lease_lost = false;  // the lease was lost while CMD ran
};

// Waits until CMD (`pid`) exits, meanwhile:
//  - passing SIGINT, SIGTERM and SIGHUP sent to baton on to CMD, except
//    those the terminal sent to the whole foreground process group, which
//    CMD already received;
//  - when `lost` reports a lease lost (the renewal thread keeps the leases
//    alive otherwise), naming the lock it reports, sending CMD SIGTERM, and
//    SIGKILL after kill_grace if it is still running.
CommandEnd supervise_command(pid_t pid, const Signals& signals, LostChannel& lost);

}  // namespace baton::cli
