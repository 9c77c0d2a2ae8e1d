// cli/run_events.hpp: what `baton run` reports for each way it ends, and the
// exit status that goes with it (the statuses are cli/exit_codes.hpp's).
//
// Every report is one stderr line through error_line(); each function that
// ends the command returns the status main() exits with.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include <baton/lock_set.hpp>

#include "cli.hpp"

namespace baton::cli {

// A stop signal cancelled the wait: 128 + signo.
int report_interrupted(const std::string& name, int signo);

// --no-wait found lock `name` busy, or --timeout passed waiting for it:
// exit_not_acquired.
int report_not_acquired(const RunArgs& args, const std::string& name);

// The lease of lock `name` ended between the grant and the start of CMD,
// which is then not run (the locks are released first): exit_lease_lost.
int report_lost_before_start(LockSet& locks, const std::string& name);

// posix_spawnp() failed with `error` (the locks are released first):
// exit_cannot_exec, like the shell's "command not found".
int report_cannot_exec(LockSet& locks, const std::string& command, int error);

// The lease was lost while CMD (pid) ran; CMD is being sent SIGTERM.
void report_lost_while_running(const std::string& name, std::uint64_t token, pid_t pid);

// CMD's exit status as a shell reports it: its code, or 128 + the signal
// that killed it.
int command_exit_status(int wait_status);

// Releases the locks after CMD ended and returns the status to exit with:
// exit_lease_lost when a lease was lost while CMD ran (seen by the renewal
// thread, or by this release, which then names the lock and its token from
// `tokens`), else CMD's own `command_status`. A release that fails for
// another reason only warns: CMD ran to its end under the locks, and the
// grants expire with their leases.
int release_after_command(LockSet& locks, const std::map<std::string, std::uint64_t>& tokens, bool lease_lost,
                          int command_status);

// Releases every lock the set holds or has a loss pending for; never throws
// (used on paths that already report something else).
void release_quietly(LockSet& locks) noexcept;

}  // namespace baton::cli
