// watch.hpp: waiting for one key's deletion on a watch stream of the JSON
// gateway (POST /v3/watch, one JSON message per line), cancellable at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

#include <baton/options.hpp>

#include "client.hpp"

namespace baton::etcd {

enum class WatchEnd {
  deleted,   // the key was deleted, or is gone
  deadline,  // `deadline` passed
  stopped,   // `stop` was requested
  ended,     // `tick` asked to end, or the stream ended or failed
};

// Blocks until `key` (which the caller saw exist) is deleted or found gone,
// the deadline passes, a stop is requested (ends within a few milliseconds:
// the stop wakes the poll), or the stream ends. Calls `tick` on this thread
// about every `tick_interval` (it keeps the waiter's lease alive); `tick`
// returning false ends the wait, and so does a tick after which the
// client's unary calls go to another endpoint than the stream's. `gone` (a
// unary look-up) says whether the key is gone already: asked once when etcd
// confirms the watch, and before that 5 ms after the start and then at
// doubling intervals up to `tick_interval`. Throws what `tick` or `gone`
// throws; a stream that cannot be opened is `ended`, so the caller's next
// unary call reports the failure.
WatchEnd wait_for_delete(Client& client, const std::string& key, Clock::time_point deadline,
                         const std::stop_token& stop,
                         std::chrono::milliseconds tick_interval, const std::function<bool()>& tick,
                         const std::function<bool()>& gone);

}  // namespace baton::etcd
