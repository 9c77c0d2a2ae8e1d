// baton/kit/connection_pool.hpp: idle connections kept for reuse.
//
// A backend that talks to a server opens a connection per call that needs
// one and gives it back afterwards; the pool keeps up to `capacity` idle
// ones so the next call skips the connect. A connection that reports itself
// broken is dropped, never handed out again.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace baton::kit {

// Thread-safety: take() and give_back() may be called from any thread,
// concurrently; the lock is held only to move a pointer, never while
// connecting. Not copyable, not movable (backends hold it by value).
//
// `Connection` is any type; `is_broken(const Connection&)` says whether a
// connection can no longer be used (its socket failed, say).
template <class Connection>
class ConnectionPool {
 public:
  using Opener = std::function<std::unique_ptr<Connection>()>;
  using BrokenCheck = std::function<bool(const Connection&)>;

  // `open` makes a new connection (and may throw BackendUnavailable); it is
  // called by take() when no idle connection is usable.
  ConnectionPool(std::size_t capacity, Opener open, BrokenCheck is_broken)
      : capacity_(capacity), open_(std::move(open)), is_broken_(std::move(is_broken)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle, unbroken connection, or a new one from the opener. Blocks only
  // while the opener connects.
  std::unique_ptr<Connection> take() {
    {
      std::lock_guard lock(mu_);
      while (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        if (!is_broken_(*c)) return c;
      }
    }
    return open_();
  }

  // Keeps `c` for reuse unless it is null, broken or the pool is full.
  void give_back(std::unique_ptr<Connection> c) {
    if (!c || is_broken_(*c)) return;
    std::lock_guard lock(mu_);
    if (idle_.size() < capacity_) idle_.push_back(std::move(c));
  }

  // Drops every idle connection (after the server restarted, say).
  void clear() {
    std::vector<std::unique_ptr<Connection>> dropped;
    std::lock_guard lock(mu_);
    dropped.swap(idle_);
  }

 private:
  const std::size_t capacity_;
  const Opener open_;
  const BrokenCheck is_broken_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace baton::kit
