// lock_state.hpp: the state of one lock name, as kept in its file, and the
// rules that age it (expired or dead holders, dead or abandoned waiters).
//
// Pure data and pure functions: no I/O, no locking. state_file.hpp reads and
// writes it under the file lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process.hpp"

namespace baton_flock {

// "Never" for a boottime instant (a forever lease, a waiter without deadline).
inline constexpr std::int64_t never = -1;

struct Holder {
  std::string owner;          // Owner::id of the holding Lock instance
  std::string host;           // Owner::host
  std::int64_t owner_pid = 0; // Owner::pid, as reported by inspect()
  ProcessId process;          // the process that took the grant, for liveness
  std::uint64_t token = 0;
  std::int64_t acquired_at_unix_ns = 0;  // wall clock, informational
  std::int64_t expires_ns = never;       // CLOCK_BOOTTIME
};

struct Waiter {
  std::uint64_t ticket = 0;   // unique per name; queue order is file order
  std::string owner;
  ProcessId process;
  std::int64_t give_up_ns = never;  // the acquire's deadline, CLOCK_BOOTTIME
};

// Invariants: `waiters` is in ticket order (FIFO); every ticket is below
// `next_ticket`; every token ever granted is <= `last_token`, which never
// decreases (the file is never deleted).
struct LockState {
  std::string name;  // the full lock name; empty only in a new file
  std::uint64_t next_ticket = 1;
  std::uint64_t last_token = 0;
  std::optional<Holder> holder;
  std::vector<Waiter> waiters;
};

// The file's text: one record per line, byte strings hex-encoded, ending in
// an "end" line (anything after it is the tail of a longer earlier version).
std::string serialize(const LockState& state);
// Parses serialize()'s text; an empty text is a new, empty state. nullopt
// when the text is malformed.
std::optional<LockState> parse(std::string_view text);

// A waiter that has given up its deadline this long ago without removing
// itself (it was stopped, or could not get the file lock) is dropped.
inline constexpr std::int64_t abandoned_grace_ns = 500'000'000;

// Drops an expired or dead holder and dead or abandoned waiters. Returns true
// if anything changed.
bool prune(LockState& state, std::int64_t now_ns);

}  // namespace baton_flock
