// Named preconditions: features of a backend that cases use as tools, not
// as their subject. Many cases time their steps by inspect().waiters (a
// waiter is queued once the count says so), read their locks through
// list(), or measure a lease by inspect().expires_in. When a backend gets
// such a feature wrong, every case built on it would fail in ways that
// point elsewhere; a precondition instead ends the case at once (like a
// failed REQUIRE) with one message that names the feature, its clause and
// the Backend method, and what it saw:
//
//   precondition: inspect().waiters must count queued waiters (docs/design.md §1.9, Backend::inspect) —
//   backend 'sqlite': expected 2, last seen 0 after 5000 ms; this case times its steps by it
//
// Every such message begins with "precondition:", so it is told apart from
// the case's own checks. Call them from the test's thread only.
#pragma once

#include <cstddef>
#include <string_view>

#include "support.hpp"

namespace baton::conformance::detail {

// Waits up to `bound` for manager.inspect(name).waiters == n; else fails the
// case (docs/design.md §1.9: the count is exact, of live queued waiters).
void require_waiter_count(LockManager& manager, std::string_view name, std::size_t n,
                          milliseconds bound = 5000ms);

// Fails the case unless manager.list() reports `name`, which the caller
// holds, exactly once and held (docs/design.md §1.9: one LockInfo per held
// lock).
void require_listed(LockManager& manager, std::string_view name);

// Fails the case unless manager.inspect(name) reports `name` held with
// 0 < expires_in <= ttl: the caller holds it with the finite lease `ttl`
// (docs/design.md §1.9: the time left on the lease; §1.5 leases).
void require_finite_lease(LockManager& manager, std::string_view name, milliseconds ttl);

}  // namespace baton::conformance::detail
