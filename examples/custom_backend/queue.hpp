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
  std::vector<Entry> live;              // ascending tickets: the queue order
  std::uint64_t highest_tombstone = 0;  // of those seen or made by this look

  // The entry that holds a running lease, if any.
  const Entry* holder(std::int64_t now_ns) const;
  // Live entries waiting for their turn.
  std::size_t waiters() const;
  // True when a ticket above `ticket` was granted: a holding entry or a
  // tombstone above it, or the tombstone of `ticket` itself.
  bool granted_above(std::uint64_t ticket) const;
};

// Scans `dir`, reads every entry, removes the reapable ones (see
// NameDir::remove) and the tombstones below the highest one. Never waits
// for anyone: a reader that meets a write in progress reads the entry's
// other slot.
Queue look(const NameDir& dir, std::int64_t now_ns);

}  // namespace baton_flock
