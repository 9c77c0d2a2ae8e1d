// host.hpp: what the SQLite backend needs to know about this host and this
// process: a clock that every process of the host shares and no one can
// step, the boot id that says whether that clock is still the same clock,
// and enough about a process to tell, from another process, that it is dead.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace baton::sqlite::detail {

// Who "we" are when judging whether a row is alive: rows from another boot
// are void, and pids are only comparable inside our own pid namespace.
// Shared by every connection of one backend. Aggregate; copyable.
struct Identity {
  std::string boot_id;
  std::string pid_ns;  // empty: do not check processes
};

// CLOCK_BOOTTIME in nanoseconds. Chosen over the wall clock because `date -s`
// and NTP steps must neither expire nor extend a lease, and over
// CLOCK_MONOTONIC because it keeps counting through a suspend, so a laptop
// that sleeps past a lease does not wake up still "holding". It is the same
// clock in every process (and container) of one boot, and only of one boot:
// hence the boot id stored next to every value taken from it.
std::int64_t boottime_ns() noexcept;

// The lease end, on the boot clock, of a lease of `ttl` taken at `now`
// (both ns); nullopt for forever, or for a lease too long to represent.
std::optional<std::int64_t> lease_end(std::int64_t now, std::chrono::milliseconds ttl) noexcept;

// A boot-clock instant as a steady_clock instant (both tick at the same rate
// while the machine runs), given one instant `now_boot` ~ `now` of each;
// time_point::max() for one more than a year ahead.
std::chrono::steady_clock::time_point boottime_to_steady(std::int64_t boot_ns, std::int64_t now_boot,
                                                         std::chrono::steady_clock::time_point now) noexcept;

// The wall clock in milliseconds since the epoch, for display only.
std::int64_t wall_ms() noexcept;

// /proc/sys/kernel/random/boot_id, or "unknown-boot" when it cannot be read
// (then a reboot is not detected and old leases simply run out).
std::string read_boot_id();

// The pid namespace of this process ("pid:[4026531836]"), or empty when pids
// seen here cannot be checked against /proc reliably (no /proc, or a /proc
// of another namespace); an empty namespace disables the dead-process check.
std::string read_pid_namespace();

// This process as another process of the same namespace can recognise it:
// its pid and its start time (clock ticks after boot, /proc/PID/stat field
// 22), which tells a reused pid from the original. Cached; recomputed after
// a fork.
struct ProcessId {
  std::int64_t pid = 0;
  std::optional<std::int64_t> start;
};
ProcessId self_process();

// True only when process `pid` certainly no longer runs: kill(pid, 0) says
// ESRCH, or it is a zombie, or the pid now belongs to a process started at
// another time than `start`. Anything uncertain (EPERM, unreadable /proc)
// counts as alive: a wrong "dead" would break mutual exclusion, a wrong
// "alive" only delays the queue until the lease or heartbeat runs out.
bool process_gone(std::int64_t pid, std::optional<std::int64_t> start);

}  // namespace baton::sqlite::detail
