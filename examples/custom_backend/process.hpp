// process.hpp: who is alive on this host, and the clock leases are kept on.
#pragma once

#include <cstdint>
#include <string>

namespace baton_flock {

// A process, identified so that pid reuse is detected: the pid together with
// its start time (/proc/<pid>/stat field 22, clock ticks since boot).
struct ProcessId {
  std::string host;  // gethostname(): a pid means something only there
  std::int64_t pid = 0;
  std::uint64_t start = 0;
};

// The calling process (recomputed after a fork, when getpid() changes).
ProcessId self_process();

// False once the process has exited (or is a zombie), or its pid now belongs
// to a process started at another time. A stopped (SIGSTOP) process is alive.
// True when /proc cannot tell (no permission): never drop what we cannot see.
bool is_alive(const ProcessId& p);

// CLOCK_BOOTTIME in nanoseconds: shared by every process on the host,
// monotonic, and still running through a suspend, so leases stored in a file
// mean the same to every reader and never depend on the wall clock.
std::int64_t boottime_ns();

// gethostname(), cached.
const std::string& host_name();

}  // namespace baton_flock
