// baton/kit/deadline.hpp: deadline arithmetic for backend authors.
//
// Every deadline in baton is a Clock::time_point; Clock::time_point::max()
// means "no deadline", and a lease of baton::forever never ends. These
// helpers keep that meaning through arithmetic instead of overflowing.
// All functions are pure and may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>

#include "baton/options.hpp"

namespace baton::kit {

// `from + d` without overflow: max() when the sum would not fit (so a
// `forever` lease or a max() deadline stays "never"). A negative `d` gives
// a time before `from`.
inline Clock::time_point saturating_add(Clock::time_point from, std::chrono::milliseconds d) {
  const auto room = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - from);
  return d >= room ? Clock::time_point::max() : from + d;
}

// A deadline `d` from now (see saturating_add).
inline Clock::time_point deadline_in(std::chrono::milliseconds d) { return saturating_add(Clock::now(), d); }

// What is left until `deadline`, never negative; milliseconds::max() for
// "no deadline". Rounded up, so a wait of the result never ends early.
inline std::chrono::milliseconds remaining(Clock::time_point deadline, Clock::time_point now = Clock::now()) {
  if (deadline == Clock::time_point::max()) return std::chrono::milliseconds::max();
  if (deadline <= now) return std::chrono::milliseconds::zero();
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
}

// The earlier of a deadline and `now + step`: how long one bounded step of
// a wait (a poll, a heartbeat) may sleep without overrunning the deadline.
inline Clock::time_point step_deadline(Clock::time_point deadline, std::chrono::milliseconds step,
                                       Clock::time_point now = Clock::now()) {
  return std::min(deadline, saturating_add(now, step));
}

}  // namespace baton::kit
