#include "baton/backend.hpp"

#include <exception>

namespace baton {

void Backend::renew_batch(std::span<Renewal> batch) noexcept {
  for (Renewal& r : batch) {
    try {
      r.result = r.lock->renew(r.ttl) ? RenewResult::renewed : RenewResult::lost;
    } catch (...) {
      r.result = RenewResult::unreachable;
    }
  }
}

}  // namespace baton
