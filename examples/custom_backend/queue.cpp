#include "queue.hpp"

#include <algorithm>

namespace baton_flock {

const Entry* Queue::holder(std::int64_t now_ns) const {
  for (const auto& e : live) {
    if (e.record.phase == Phase::holding && lease_running(e.record, now_ns)) return &e;
  }
  return nullptr;
}

std::size_t Queue::waiters() const {
  std::size_t n = 0;
  for (const auto& e : live) n += e.record.phase == Phase::waiting ? 1 : 0;
  return n;
}

bool Queue::granted_above(std::uint64_t ticket) const {
  if (highest_tombstone >= ticket) return true;
  for (const auto& e : live) {
    if (e.ticket > ticket && e.record.phase == Phase::holding) return true;
  }
  return false;
}

Queue look(const NameDir& dir, std::int64_t now_ns) {
  const Listing listing = dir.scan();
  Queue q;
  q.highest_tombstone = listing.highest_tombstone;
  for (std::uint64_t ticket : listing.live) {
    auto record = dir.read(ticket);
    if (!record) continue;  // left since the scan
    if (reapable(*record, now_ns)) {
      const bool granted = record->phase == Phase::holding;
      dir.remove(ticket, granted);
      if (granted) q.highest_tombstone = std::max(q.highest_tombstone, ticket);
      continue;
    }
    q.live.push_back(Entry{ticket, std::move(*record)});
  }
  dir.collect(listing);
  return q;
}

}  // namespace baton_flock
