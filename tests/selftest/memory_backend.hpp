// An in-memory backend: every lock lives in this process, so it is
// single-process by nature (Suite::multi_process = false). It keeps the
// whole contract of docs/design.md §1 within the process, and serves the
// suite's self-test: a clean run, and runs with one deliberate defect.
#pragma once

#include <memory>
#include <string_view>

#include "baton/backend.hpp"

namespace baton::selftest {

// A deliberate defect, to show that the suite catches it.
enum class Defect {
  none,
  waiters_always_zero,  // inspect() reports 0 waiters
  acquire_hangs,        // a contended acquire ignores its deadline and stop
  try_jumps_queue,      // try_acquire grants over queued waiters
  clear_wakes_nobody,   // clear() frees the lock but wakes no waiter
  list_omits_forever,   // list() leaves out locks held with baton::forever
};

// "none", "waiters-always-zero", ... as above with dashes; throws
// std::invalid_argument for another text.
Defect parse_defect(std::string_view text);

// A new backend object on the one in-memory store of this process. Every
// object made here shares that store, as clients of one server do.
std::shared_ptr<Backend> make_memory_backend(Defect defect = Defect::none);

}  // namespace baton::selftest
