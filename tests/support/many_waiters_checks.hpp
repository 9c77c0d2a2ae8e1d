// many_waiters_checks.hpp: the Catch2 checks of a serve_many_waiters()
// outcome, the same for every backend.
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <vector>

#include "many_waiters.hpp"

namespace baton::test {

// Every thread was served, exactly once, one at a time (no lost update),
// with tokens strictly increasing in grant order.
inline void check_all_served(const ManyWaitersOutcome& out) {
  INFO("threads " << out.threads << ", queued at once " << out.queued_at_once);
  for (std::size_t i = 0; i < out.errors.size() && i < 5; ++i) UNSCOPED_INFO("error: " << out.errors[i]);
  CHECK(out.errors.empty());
  CHECK(out.timed_out == 0);
  CHECK(out.queued_at_once == out.threads);
  CHECK(out.grants == out.threads);
  REQUIRE(out.served_in_order.size() == out.grants);
  std::vector<int> times_served(out.threads, 0);
  for (std::size_t index : out.served_in_order) ++times_served[index];
  std::size_t served_once = 0;
  for (int n : times_served) served_once += n == 1 ? 1 : 0;
  CHECK(served_once == out.threads);
  std::size_t increasing = 0;
  for (std::size_t i = 1; i < out.tokens_in_order.size(); ++i) {
    increasing += out.tokens_in_order[i] > out.tokens_in_order[i - 1] ? 1 : 0;
  }
  CHECK(increasing + 1 == out.tokens_in_order.size());
}

}  // namespace baton::test
