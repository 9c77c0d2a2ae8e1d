// baton/kit/connection_keys.hpp: the config keys every networked backend
// shares, read once with the same names and bounds (docs/design.md §6).
#pragma once

#include <chrono>

#include "baton/config.hpp"

namespace baton::kit {

// Reads the shared keys of `section` into `options`, leaving a field as it
// is when its key is absent:
//   connect_timeout_ms -> options.connect_timeout  (1 ms to 10 min)
//   command_timeout_ms -> options.command_timeout  (1 ms to 10 min)
//   pool_size          -> options.pool_size        (1 to 1024)
// Options is any struct with those three members (std::chrono::milliseconds,
// std::chrono::milliseconds, an unsigned integer). Throws ConfigError naming
// the key when a value is of the wrong type or out of bounds.
template <class Options>
void read_connection_keys(ConfigSection& section, Options& options) {
  using std::chrono::milliseconds;
  constexpr auto most = std::chrono::minutes(10);
  if (auto v = section.milliseconds("connect_timeout_ms", milliseconds(1), most)) options.connect_timeout = *v;
  if (auto v = section.milliseconds("command_timeout_ms", milliseconds(1), most)) options.command_timeout = *v;
  if (auto v = section.integer("pool_size", 1, 1024)) options.pool_size = static_cast<decltype(options.pool_size)>(*v);
}

}  // namespace baton::kit
