// record.hpp: the content of one queue entry file (a waiter or the holder of
// one lock name), its fixed-size on-disk encoding, and the rule that says
// when anyone may remove an entry whose owner can no longer do it.
//
// Pure data and pure functions: no I/O. name_dir.hpp reads and writes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "process.hpp"

namespace baton_flock {

// "Never" for a boottime instant (a forever lease, a waiter without deadline).
inline constexpr std::int64_t never = -1;

enum class Phase : char { waiting = 'w', holding = 'h' };

struct Record {
  std::string owner;           // Owner::id of the Lock instance
  std::string host;            // Owner::host
  std::int64_t owner_pid = 0;  // Owner::pid, as reported by inspect()
  ProcessId process;           // the process that wrote the entry, for liveness
  Phase phase = Phase::waiting;
  std::int64_t lease_end_ns = never;     // CLOCK_BOOTTIME; meaningful when holding
  std::int64_t give_up_ns = never;       // the acquire's deadline, CLOCK_BOOTTIME
  std::int64_t acquired_unix_ns = 0;     // wall clock, informational
};

// An entry file is two slots of `slot_size` bytes. Its only writer updates
// them alternately (slot = sequence % 2), each slot holding the record, its
// sequence number and a checksum, so a reader that meets a torn slot (a
// write in progress, or a crash during one) still finds the other, complete
// slot: the previous version.
inline constexpr std::size_t slot_size = 2048;
inline constexpr std::size_t entry_size = 2 * slot_size;

// One slot's bytes, exactly slot_size long. Throws BackendError when the
// record does not fit (an owner id or host name of hundreds of bytes).
std::string encode_slot(const Record& record, std::uint64_t sequence);

// The newer valid slot of an entry's bytes, or nullopt when neither slot is
// valid (the caller re-reads: only a write in progress tears a slot).
struct Versioned {
  Record record;
  std::uint64_t sequence = 0;
};
std::optional<Versioned> decode_entry(std::string_view bytes);

// A lease, once ended, is reaped only this much later. Its owner refuses to
// renew a lease that has ended and gives a renewal up when it finds, after
// writing, that this grace has passed too, so a reaper that judged the old
// lease ended (it needs end + grace) never meets a lease renewed after it.
inline constexpr std::int64_t lease_grace_ns = 250'000'000;
// A waiter this long past its deadline that has not removed itself (it was
// stopped, say) has abandoned its attempt.
inline constexpr std::int64_t abandoned_grace_ns = 500'000'000;

// True when anyone may remove the entry: its holder's lease ended more than
// lease_grace_ns ago, its process is gone (dead pid, other start time,
// zombie), or it waits abandoned. A stopped process is alive: its entry stays.
bool reapable(const Record& record, std::int64_t now_ns);

// True while a holding record's lease runs (or it never ends).
bool lease_running(const Record& record, std::int64_t now_ns);

}  // namespace baton_flock
