// connection_pool.hpp: the idle connections of one backend, so a new Lock
// reuses one instead of opening the database again (an open parses the
// schema and maps the WAL index: several times the cost of an uncontended
// acquire and release).
//
// A connection carries no owner: the owner id, the name and the token live
// in the Lock that borrows it, so one connection serves one Lock after
// another with each Lock's semantics intact. Only a connection outside any
// transaction comes back (every call ends its own).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "connection.hpp"

namespace baton::sqlite::detail {

// Thread-safe; not copyable, not movable (shared by pointer).
class ConnectionPool {
 public:
  // At most `keep` idle connections are kept; more given back are closed.
  explicit ConnectionPool(std::size_t keep) noexcept : keep_(keep) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection, or one `open` makes (which may throw as
  // Connection's constructor does). Any thread; never blocks on others'
  // use of the database.
  std::unique_ptr<Connection> take(const std::function<std::unique_ptr<Connection>()>& open);
  // Takes `conn` back (null: nothing) for the next take(). Never throws.
  void give_back(std::unique_ptr<Connection> conn) noexcept;

 private:
  const std::size_t keep_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace baton::sqlite::detail
