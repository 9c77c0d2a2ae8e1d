// queue.hpp: one look at the queue of a lock name, as any participant sees
// it: the live entries in ticket order, after removing those that no owner
// will ever remove (reapable(): ended leases, dead processes, abandoned
// waits).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "name_dir.hpp"
#include "record.hpp"

namespace baton_flock {

struct Entry {
  std::uint64_t ticket = 0;
  Record record;
};

struct Queue {
  std::vector<Entry> live;   // ascending tickets: the queue order
  std::uint64_t highest = 0; // highest ticket of any entry or tombstone seen

  // The entry that holds a running lease, if any.
  const Entry* holder(std::int64_t now_ns) const;
  // Live entries waiting for their turn.
  std::size_t waiters() const;
};

// Scans `dir`, reads every entry, removes the reapable ones and the
// tombstones below the highest ticket. Never waits for anyone: a reader
// that meets a write in progress reads the entry's other slot.
Queue look(const NameDir& dir, std::int64_t now_ns);

}  // namespace baton_flock
