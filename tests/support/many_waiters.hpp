// many_waiters.hpp: one process whose threads all wait on one name through
// one LockManager (the scale tests of each backend). Header-only: it needs
// baton's core, which baton_test_support does not link.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "baton/error.hpp"
#include "baton/lock.hpp"
#include "baton/lock_manager.hpp"
#include "test_support.hpp"

namespace baton::test {

// What the threads of serve_many_waiters() saw.
struct ManyWaitersOutcome {
  std::size_t threads = 0;
  std::size_t queued_at_once = 0;  // waiters inspect() counted before the first release
  std::size_t timed_out = 0;       // acquire_for() returned false
  std::vector<std::string> errors;  // what each failed thread threw
  // Written only under the lock: one entry per grant, in grant order. A lost
  // update shows as fewer entries than `grants`.
  std::vector<std::size_t> served_in_order;  // thread index
  std::vector<std::uint64_t> tokens_in_order;
  std::size_t grants = 0;  // counted atomically, outside the lock
};

// `threads` threads each make a Lock of `name` on `manager` and block in
// acquire_for(`timeout`) while a first holder keeps the lock until all are
// queued (or `queue_bound` passes); each then appends its index and token to
// the outcome, under the lock, by a read-modify-write that a second holder
// would corrupt, and releases. Blocks until every thread ended.
inline ManyWaitersOutcome serve_many_waiters(LockManager& manager, const std::string& name, std::size_t threads,
                                             std::chrono::milliseconds timeout,
                                             std::chrono::milliseconds queue_bound) {
  ManyWaitersOutcome out;
  out.threads = threads;
  std::mutex errors_mu;
  std::atomic<std::size_t> timed_out{0}, grants{0};
  // Kept apart from `out` on purpose: the lock, not a mutex, protects them.
  std::vector<std::size_t> served(threads + 1, 0);
  std::vector<std::uint64_t> tokens(threads + 1, 0);
  std::size_t count = 0;

  Lock first = manager.lock(name);
  first.acquire();
  std::latch started(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      try {
        Lock lock = manager.lock(name);
        started.count_down();
        if (!lock.acquire_for(timeout)) {
          ++timed_out;
          return;
        }
        ++grants;
        const std::size_t at = count;  // read ...
        std::this_thread::yield();     // ... a second holder would interleave here ...
        if (at < served.size()) {
          served[at] = i;
          tokens[at] = lock.token();
        }
        count = at + 1;  // ... and one of the two updates would be lost
        lock.release();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> guard(errors_mu);
        out.errors.emplace_back(e.what());
      }
    });
  }
  started.wait();
  eventually(queue_bound, [&] { return manager.inspect(name).waiters >= threads; }, 20ms);
  out.queued_at_once = manager.inspect(name).waiters;
  first.release();
  for (auto& t : pool) t.join();

  out.timed_out = timed_out;
  out.grants = grants;
  const std::size_t n = std::min(count, threads);
  out.served_in_order.assign(served.begin(), served.begin() + static_cast<std::ptrdiff_t>(n));
  out.tokens_in_order.assign(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n));
  return out;
}

}  // namespace baton::test
