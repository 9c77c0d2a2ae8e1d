// baton/kit/defaults.hpp: "zero means the default" for option fields.
//
// Every duration or count in an Options struct documents what zero means
// ("Zero: 5 s"). Resolve such a field with or_default() where it is used,
// so the documented default is written once, beside the field's reader.
// Pure functions; any thread.
#pragma once

#include <chrono>

namespace baton::kit {

// `value` unless it is zero (or negative), else `fallback`.
template <class Rep, class Period>
constexpr std::chrono::duration<Rep, Period> or_default(std::chrono::duration<Rep, Period> value,
                                                        std::chrono::duration<Rep, Period> fallback) {
  return value > std::chrono::duration<Rep, Period>::zero() ? value : fallback;
}

// `value` unless it is zero, else `fallback` (pool sizes, counts).
constexpr unsigned or_default(unsigned value, unsigned fallback) { return value > 0 ? value : fallback; }

// The timeouts most backends share, so their defaults agree.
inline constexpr std::chrono::milliseconds default_connect_timeout = std::chrono::seconds(5);
inline constexpr std::chrono::milliseconds default_command_timeout = std::chrono::seconds(5);
inline constexpr std::chrono::milliseconds default_heartbeat_interval = std::chrono::seconds(1);
inline constexpr unsigned default_pool_size = 8;

}  // namespace baton::kit
