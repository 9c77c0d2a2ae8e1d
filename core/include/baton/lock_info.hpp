// baton/lock_info.hpp: what inspection reports about one lock name.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace baton {

// A snapshot of one lock name, as LockManager::inspect() and list() return
// it. Aggregate; copyable. Holder fields are meaningful only when `held`,
// and are empty (token 0) when the store shows the lock taken by a client
// that is not baton's (a database session holding the same advisory key,
// say).
struct LockInfo {
  std::string name;
  bool held = false;
  std::uint64_t token = 0;       // fencing token of the current grant
  std::string owner;             // owner id of the holding Lock instance
  std::string host;              // host name of the holding process
  std::int64_t pid = 0;          // pid of the holding process (on `host`)
  // When the current grant was made, by the wall clock (informational only:
  // leases never depend on the wall clock).
  std::chrono::system_clock::time_point acquired_at{};
  // Time left on the current lease when the snapshot was taken;
  // `baton::forever` for a lease that never expires.
  std::chrono::milliseconds expires_in{0};
  // Live waiters queued behind the holder (or ahead of a free lock that is
  // about to be handed over). Exact, not an estimate: the conformance suite
  // waits on this count to know its waiters are queued.
  std::size_t waiters = 0;
};

}  // namespace baton
