// baton/options.hpp: per-lock and per-manager options, and the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

namespace baton {

// Every deadline in baton is on the monotonic clock: a wall-clock step (NTP,
// `date -s`) never shortens or stretches a wait or a lease.
using Clock = std::chrono::steady_clock;

// A lease that never expires. Only ever used when asked for explicitly: a
// holder with this lease that hangs keeps the lock until it is cleared (or,
// on backends that see connections, until its connection drops).
inline constexpr std::chrono::milliseconds forever = std::chrono::milliseconds::max();

// Called when a grant's lease is found gone by the background renewal (or by
// renew()). Runs on the manager's renewal thread (or the thread that called
// renew()), after the Lock's own state already says it does not hold, with no
// baton lock held: it may call any method of the Lock, including acquire().
// It should be quick: renewals of the manager's other locks wait for it.
using LostCallback = std::function<void(std::string_view name, std::uint64_t token)>;

// Options for one Lock instance. Aggregate; copyable.
struct LockOptions {
  // Lease of each grant. Zero: the manager's default (config
  // `defaults.ttl_seconds`, 30 s unless set). `baton::forever`: no expiry.
  std::chrono::milliseconds ttl{0};
  // Renew the lease in the background (at about ttl/3) while held. With
  // false, the holder must call renew() itself before the lease ends.
  bool auto_renew = true;
  // Optional; see LostCallback.
  LostCallback on_lost{};
};

// Options for a LockManager. Aggregate; copyable.
struct ManagerOptions {
  // Lease used by locks whose LockOptions::ttl is zero. Zero here: 30 s.
  std::chrono::milliseconds default_ttl{0};
  // Renew at ttl / renew_divisor. Zero: 3.
  unsigned renew_divisor = 0;
};

}  // namespace baton
