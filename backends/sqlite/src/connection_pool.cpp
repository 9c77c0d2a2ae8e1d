#include "connection_pool.hpp"

#include <utility>

namespace baton::sqlite::detail {

std::unique_ptr<Connection> ConnectionPool::take(const std::function<std::unique_ptr<Connection>()>& open) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  return open();
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) noexcept {
  if (!conn) return;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (idle_.size() < keep_) {
      try {
        idle_.push_back(std::move(conn));
        return;
      } catch (...) {
        // No room: closed below, outside the lock.
      }
    }
  }
  conn.reset();
}

}  // namespace baton::sqlite::detail
