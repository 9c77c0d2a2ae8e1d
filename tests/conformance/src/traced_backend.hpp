// A Backend that forwards every call to the backend under test and names
// the calls in progress for the watchdog (watchdog.hpp), so a case that runs
// past its bound says which backend call never returned.
#pragma once

#include <memory>

#include "baton/backend.hpp"

namespace baton::conformance::detail {

// Wraps `inner`; kind() and every result and exception are inner's own.
std::shared_ptr<Backend> traced(std::shared_ptr<Backend> inner);

}  // namespace baton::conformance::detail
