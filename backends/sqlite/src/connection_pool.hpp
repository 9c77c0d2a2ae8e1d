// connection_pool.hpp: the idle connections of one backend, so a new Lock
// reuses one instead of opening the database again (an open parses the
// schema and maps the WAL index: several times the cost of an uncontended
// acquire and release), and ten thousand held Locks do not keep ten
// thousand connections (and three times as many file descriptors) open.
//
// A connection carries no owner: the owner id, the name and the token live
// in the Lock that borrows it for one call, so one connection serves Lock
// after Lock with each Lock's semantics intact. Only a connection outside
// any transaction comes back (every call ends its own).
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

// A connection borrowed for one call, given back to its pool (null: closed)
// when this goes out of scope. Move-only.
class PooledConnection {
 public:
  PooledConnection(ConnectionPool* pool, std::unique_ptr<Connection> conn) noexcept
      : pool_(pool), conn_(std::move(conn)) {}
  PooledConnection(PooledConnection&& other) noexcept = default;
  PooledConnection& operator=(PooledConnection&&) = delete;
  PooledConnection(const PooledConnection&) = delete;
  PooledConnection& operator=(const PooledConnection&) = delete;
  ~PooledConnection() {
    if (pool_ != nullptr) pool_->give_back(std::move(conn_));
  }

  Connection& operator*() const noexcept { return *conn_; }
  Connection* operator->() const noexcept { return conn_.get(); }

 private:
  ConnectionPool* pool_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace baton::sqlite::detail
