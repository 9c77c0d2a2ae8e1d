#include "preconditions.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "clause.hpp"
#include "watchdog.hpp"

namespace baton::conformance::detail {

namespace {

// "precondition: <what must hold> (docs/design.md <where>) — backend '<name>': "
std::string precondition_head(std::string_view must, std::string_view where) {
  return "precondition: " + std::string(must) + " (docs/design.md " + std::string(where) + ") — " + backend_label() +
         ": ";
}

}  // namespace

void require_waiter_count(LockManager& manager, std::string_view name, std::size_t n, milliseconds bound) {
  Step step("waiting for inspect().waiters to reach " + std::to_string(n) + " (docs/design.md §1.9)");
  const auto t0 = Clock::now();
  const std::size_t seen = wait_for_waiters(manager, name, n, bound);
  if (seen == n) return;
  FAIL(precondition_head("inspect().waiters must count queued waiters", "§1.9, Backend::inspect")
       << "expected " << n << ", last seen " << seen << " after " << ms_since(t0).count() << " ms (lock \""
       << printable(name) << "\"); this case times its steps by it, so it stops here");
}

void require_listed(LockManager& manager, std::string_view name) {
  const auto listed = manager.list();
  std::vector<LockInfo> mine;
  for (const auto& info : listed) {
    if (info.name == name) mine.push_back(info);
  }
  if (mine.size() == 1 && mine.front().held) return;
  const auto inspected = manager.inspect(name);
  FAIL(precondition_head("a held lock must appear in list(), once", "§1.9, Backend::list")
       << "lock \"" << printable(name) << "\", held by this case (inspect() says: "
       << Catch::Detail::stringify(inspected) << "), is listed " << mine.size() << " times among "
       << listed.size() << " locks" << (mine.empty() ? "" : ", first as " + Catch::Detail::stringify(mine.front()))
       << "; this case reads its locks through list(), so it stops here");
}

void require_finite_lease(LockManager& manager, std::string_view name, milliseconds ttl) {
  const auto info = manager.inspect(name);
  if (info.held && info.expires_in > 0ms && info.expires_in <= ttl) return;
  FAIL(precondition_head("a lock held with a finite lease must report 0 < expires_in <= its ttl",
                         "§1.9 and §1.5, Backend::inspect")
       << "ttl " << ttl.count() << " ms, inspect() says: " << Catch::Detail::stringify(info)
       << "; this case measures leases by it, so it stops here");
}

}  // namespace baton::conformance::detail
